"""Where a workspace keeps its runs' checkpoints, and that a checkpoint is the one its run saved.

Each workspace has a folder of its own (:attr:`Workspace.checkpoint_folder`); a run row stores
the file's name in it and the sha256 of its bytes. Loading refuses a file whose digest differs:
another program, or another workspace in a shared folder (the layout before migration 0007),
may have overwritten it. :func:`relocate_legacy_checkpoints` moves the files of an older
workspace from the shared ``checkpoints/`` folder into its own folder when it is opened.
"""
from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from engine.errors import CheckpointError, ConfigError, WorkbenchError
from engine.files import copy_atomically, file_digest
from engine.runs.records import RunSummary
from engine.storage import runs as run_store
from engine.storage.workspace import Workspace
from engine.training.checkpoint import Checkpoint
from engine.training.config import TrainConfig
from engine.training.network_training import Network, NetworkConfig, load_network_checkpoint, save_network_checkpoint
from engine.training.sasrec_checkpoint import SASRecCheckpoint

log = logging.getLogger(__name__)


class CheckpointMissing(WorkbenchError):
    """A run's checkpoint file is gone: its stored results remain, nothing can be recomputed."""


def checkpoint_name(run_id: int) -> str:
    return f"run-{run_id}.pt"


def checkpoint_location(workspace: Workspace, run: RunSummary) -> Path | None:
    """The file of a run's checkpoint (None: the run has none, e.g. a baseline)."""
    if run.checkpoint_path is None:
        return None
    stored = Path(run.checkpoint_path)
    return stored if stored.is_absolute() else workspace.checkpoint_folder / stored


def checkpoint_available(workspace: Workspace, run: RunSummary) -> bool:
    """Whether the run's checkpoint file exists (its digest is checked when it is loaded)."""
    location = checkpoint_location(workspace, run)
    return location is not None and location.exists()


def save_run_checkpoint(workspace: Workspace, run_id: int, network: Network, config: NetworkConfig,
                        item_ids: Sequence[object] | np.ndarray,
                        user_ids: Sequence[object] | np.ndarray) -> tuple[str, str]:
    """Write the run's checkpoint into the workspace's folder; returns (file name, sha256)."""
    folder = workspace.checkpoint_folder
    folder.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(run_id)
    save_network_checkpoint(folder / name, network, config, item_ids, user_ids)
    return name, file_digest(folder / name)


def open_run_checkpoint(workspace: Workspace, run: RunSummary, device: str | torch.device = "cpu",
                        item_ids: Sequence[object] | np.ndarray | None = None,
                        user_ids: Sequence[object] | np.ndarray | None = None) -> Checkpoint | SASRecCheckpoint:
    """The run's trained network. Raises CheckpointMissing when the file is gone and
    CheckpointError when it is not the file the run saved (its digest differs), or when what it
    holds does not fit the run (a file whose digest was forged too): its model or network sizes
    are not the run's, its item ids are not as many as its network's items, or not the run's
    dataset's ``item_ids`` / ``user_ids``."""
    location = checkpoint_location(workspace, run)
    if location is None or not location.exists():
        raise CheckpointMissing(f"run {run.id}'s checkpoint {location or '(none)'} is missing: its stored metrics "
                                "remain, but its recommendations cannot be recomputed")
    if run.checkpoint_digest is not None and file_digest(location) != run.checkpoint_digest:
        raise CheckpointError(f"run {run.id}'s checkpoint {location} is not the file the run saved (its content "
                              "differs: another workspace or program overwrote it); its stored metrics remain, "
                              "train the model again to recompute them")
    checkpoint = load_network_checkpoint(location, run.model, device)
    problem = _mismatch(checkpoint, run, item_ids, user_ids)
    if problem is not None:
        raise CheckpointError(f"run {run.id}'s checkpoint {location} does not fit the run: {problem}; its stored "
                              "metrics remain, train the model again to recompute them")
    return checkpoint


def _first_difference(name: str, stored: tuple[str, ...], expected: tuple[str, ...]) -> str | None:
    if len(stored) != len(expected):
        return f"it holds {len(stored):,} {name} ids, the run's dataset has {len(expected):,}"
    for code, (have, want) in enumerate(zip(stored, expected, strict=True)):
        if have != want:
            return f"its {name} {code} is {have!r}, the dataset's is {want!r}"
    return None


def _mismatch(checkpoint: Checkpoint | SASRecCheckpoint, run: RunSummary,
              item_ids: Sequence[object] | np.ndarray | None,
              user_ids: Sequence[object] | np.ndarray | None) -> str | None:
    """What in a loaded checkpoint does not fit the run and its dataset (None: it fits)."""
    n_items = checkpoint.network.spec.n_items
    if len(checkpoint.item_ids) != n_items:
        return f"it holds {len(checkpoint.item_ids):,} item ids for a network of {n_items:,} items"
    if checkpoint.config.model != run.model:
        return f"it holds a {checkpoint.config.model} network, the run trained {run.model}"
    if isinstance(checkpoint, Checkpoint):
        try:
            expected = TrainConfig(**{**run.config, "device": checkpoint.config.device}).network_spec(n_items)
        except (TypeError, ConfigError):
            expected = None
        spec = checkpoint.network.spec
        if expected is not None and expected != spec:
            return (f"its network ({spec.session_units} session units, {spec.user_units} user units, embedding "
                    f"{spec.embedding_size}) is not the run's ({expected.session_units}, {expected.user_units}, "
                    f"{expected.embedding_size})")
    for name, stored, ids in (("item", checkpoint.item_ids, item_ids), ("user", checkpoint.user_ids, user_ids)):
        if ids is not None:
            difference = _first_difference(name, stored, tuple(str(value) for value in ids))
            if difference is not None:
                return difference
    return None


def _stored_config(path: Path) -> TrainConfig | None:
    """The configuration inside a checkpoint file, or None when it cannot be read."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return TrainConfig.from_json(payload["config"])
    except (pickle.UnpicklingError, OSError, RuntimeError, EOFError, KeyError, TypeError, ValueError,
            ConfigError) as exc:
        log.warning("cannot read the configuration of checkpoint %s: %s", path, exc)
        return None


def _same_config(stored: TrainConfig | None, run_config: dict) -> bool:
    if stored is None:
        return False
    try:
        return stored == TrainConfig(**run_config)
    except (TypeError, ConfigError):
        return False


def relocate_legacy_checkpoints(workspace: Workspace) -> int:
    """Move the checkpoints of a workspace written before migration 0007 (absolute paths into a
    ``checkpoints/`` folder that every workspace of a folder shared) into its own folder, and
    record their digests; returns how many moved. A file whose configuration is not the run's
    (another workspace overwrote it) is left where it is and the run is told it has lost its
    checkpoint. Safe to kill at any point: each file is copied atomically, the run row is
    updated, and only then the old file is removed; a later open finishes the work."""
    if workspace.read_only:
        return 0
    rows = run_store.runs_to_relocate(workspace)
    moved = 0
    folder = workspace.checkpoint_folder
    for run_id, config, stored in rows:
        old = Path(stored)
        if not old.is_absolute():
            continue
        target = folder / checkpoint_name(run_id)
        source = old if old.exists() else target if target.exists() else None
        if source is None:
            continue  # gone: reported as missing when it is needed
        if not _same_config(_stored_config(source), config):
            log.warning("run %d: checkpoint %s holds another run's model (another workspace in the same folder "
                        "overwrote it); the run keeps its stored metrics only", run_id, source)
            run_store.update_run(workspace, run_id, checkpoint_path=None, error="its checkpoint was overwritten by "
                                 "another workspace in the same folder; the stored metrics remain")
            continue
        if source != target:
            folder.mkdir(parents=True, exist_ok=True)
            copy_atomically(source, target)
        run_store.update_run(workspace, run_id, checkpoint_path=target.name, checkpoint_digest=file_digest(target))
        if source != target:
            os.remove(source)
        moved += 1
    if moved:
        log.info("moved %d checkpoints of %s into %s", moved, workspace.display_name, folder)
    return moved
