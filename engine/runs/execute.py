"""Executing a queued run: load its dataset, train (or fit a baseline), save a checkpoint, and
record everything in the workspace (status, heartbeat, per-epoch loss and wall seconds, error).
A cancelled run is marked cancelled, any failure is marked failed with its message; a process
that dies leaves a stale heartbeat, and the run is then shown as failed."""
from __future__ import annotations

from collections.abc import Callable

from engine.data.session_log import PreparedDataset
from engine.errors import Cancelled, WorkbenchError
from engine.heartbeat import Heartbeat
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs import records
from engine.runs.checkpoints import save_run_checkpoint
from engine.runs.models import config_from_json, model_entry
from engine.storage.catalog import load_prepared
from engine.storage.runs import EPOCH_SECONDS, TRAIN_LOSS, TRAIN_PAIRS_PER_SECOND
from engine.storage.workspace import Workspace
from engine.training.loop import AfterEpochCallback, resolve_device
from engine.training.network_training import NETWORK_CONFIGS, train_network

EpochCallback = Callable[[int, float, float], None]


def execute_run(workspace: Workspace, run_id: int, progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None, on_epoch: EpochCallback | None = None,
                on_started: Callable[[str], None] | None = None,
                prepared: PreparedDataset | None = None,
                after_epoch: AfterEpochCallback | None = None) -> records.RunSummary:
    """Train queued run ``run_id`` and record it; returns the final run record. Raises nothing for
    a failed or cancelled run (the record says what happened) except for a run that is not queued."""
    cancel = cancel or CancelToken()
    run = records.get_run(workspace, run_id)
    if run.status != "queued":
        raise WorkbenchError(f"run {run_id} is {run.status}, not queued: plan a new run instead")
    try:
        entry = model_entry(run.model)
        config = config_from_json(run.config)
        device = str(resolve_device(config.device)) if isinstance(config, NETWORK_CONFIGS) else "cpu"
    except WorkbenchError as exc:
        records.fail_run(workspace, run_id, str(exc))
        return records.get_run(workspace, run_id)
    records.start_run(workspace, run_id, device)
    if on_started is not None:
        on_started(device)
    try:
        with Heartbeat(lambda: records.heartbeat(workspace, run_id), records.HEARTBEAT_INTERVAL_S, f"run {run_id}"):
            if prepared is None:
                progress(0.0, "loading the dataset")
                prepared = load_prepared(workspace, run.dataset_id)
            train_log, _ = prepared.split(validation=run.validation)
            checkpoint: tuple[str, str] | tuple[None, None] = (None, None)
            if not isinstance(config, NETWORK_CONFIGS):
                assert entry.fit is not None
                progress(0.0, f"fitting {entry.label}")
                entry.fit(config, train_log, "cpu", progress, cancel)
                cancel.raise_if_cancelled()
            else:
                def record_epoch(epoch: int, loss: float, seconds: float) -> None:
                    records.record_metric(workspace, run_id, TRAIN_LOSS, epoch, loss)
                    records.record_metric(workspace, run_id, EPOCH_SECONDS, epoch, seconds)
                    if on_epoch is not None:
                        on_epoch(epoch, loss, seconds)

                result = train_network(config, train_log, progress, cancel, record_epoch, after_epoch)
                records.record_metric(workspace, run_id, TRAIN_PAIRS_PER_SECOND, 0, result.pairs_per_second)
                checkpoint = save_run_checkpoint(workspace, run_id, result.network, config, prepared.item_ids,
                                                 prepared.user_ids)
        records.finish_run(workspace, run_id, *checkpoint)
    except Cancelled:
        records.cancel_run(workspace, run_id)
    except WorkbenchError as exc:
        records.fail_run(workspace, run_id, str(exc))
    except Exception as exc:
        records.fail_run(workspace, run_id, f"{type(exc).__name__}: {exc}")
        raise
    return records.get_run(workspace, run_id)
