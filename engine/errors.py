"""Typed errors raised by the engine. Every message says what went wrong, where, and what to do."""
from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the engine raises on purpose (the CLI prints its message, no traceback)."""


class InputError(WorkbenchError):
    """A user-supplied file, column mapping or setting cannot be used. ``setting`` names the
    setting at fault (a field of the settings or request the error is about, e.g.
    ``min_item_support``) and ``label`` is its readable name, when one setting is at fault: each
    shell then says how to change it (the command line its option, the desktop app its field).
    The message itself words the remedy without naming an option or a widget."""

    def __init__(self, message: str, setting: str | None = None, label: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.label = label

    def __reduce__(self) -> tuple:  # survives pickling between processes with its fields
        return (type(self), (str(self), self.setting, self.label))


class ConfigError(InputError):
    """A training or evaluation setting is out of range or inconsistent (``setting``: the
    configuration field, ``label``: its readable name)."""


class CheckpointError(InputError):
    """A checkpoint file cannot be read, is not ours, or would execute code when loaded."""


class EmptyResultError(InputError):
    """The preprocessing filters left no data."""


class LogNotPreparedError(EmptyResultError):
    """The log was read and stored, but its preparation under the requested settings gave no
    dataset (``setting``: the one to change). ``log_id``: the stored log, which can be prepared
    again with other settings without importing the file again."""

    def __init__(self, message: str, setting: str | None = None, label: str | None = None,
                 log_id: int | None = None) -> None:
        super().__init__(message, setting, label)
        self.log_id = log_id

    def __reduce__(self) -> tuple:
        return (type(self), (str(self), self.setting, self.label, self.log_id))


class WorkspaceError(WorkbenchError):
    """The workspace cannot be opened, is of an unknown schema, or a stored object is missing."""


class NotFoundError(WorkspaceError):
    """A dataset, run or preset named by the user does not exist."""


class Cancelled(WorkbenchError):
    """The operation was cancelled through its cancel token."""


class TrainingDiverged(WorkbenchError):
    """Training diverged: the loss, the weights or the model's scores became NaN or infinite."""
