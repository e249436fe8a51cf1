"""Typed errors raised by the engine. Every message says what went wrong, where, and what to do."""
from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the engine raises on purpose (the CLI prints its message, no traceback)."""


class InputError(WorkbenchError):
    """A user-supplied file, column mapping or setting cannot be used."""


class ConfigError(InputError):
    """A training or evaluation setting is out of range or inconsistent."""


class CheckpointError(InputError):
    """A checkpoint file cannot be read, is not ours, or would execute code when loaded."""


class EmptyResultError(InputError):
    """The preprocessing filters left no data."""


class WorkspaceError(WorkbenchError):
    """The workspace cannot be opened, is of an unknown schema, or a stored object is missing."""


class NotFoundError(WorkspaceError):
    """A dataset, run or preset named by the user does not exist."""


class Cancelled(WorkbenchError):
    """The operation was cancelled through its cancel token."""


class TrainingDiverged(WorkbenchError):
    """The training loss became NaN or infinite."""
