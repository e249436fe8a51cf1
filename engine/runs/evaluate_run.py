"""Evaluating a finished run on its test (or validation) split and storing the per-event ranks,
per-session metrics and averages in the workspace."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.session_log import PreparedDataset
from engine.errors import NotFoundError, TrainingDiverged, WorkbenchError
from engine.evaluation.evaluator import EvaluationResult, EvaluationSettings, evaluate
from engine.evaluation.ranking import TIE_MODES
from engine.evaluation.stream_scorer import StreamScorer
from engine.evaluation.ties import convert_ranks
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs import records
from engine.runs.checkpoints import open_run_checkpoint
from engine.runs.models import config_from_json, model_entry
from engine.storage import catalog
from engine.storage import evaluations as store
from engine.storage.catalog import load_prepared, now_utc
from engine.storage.evaluations import EvaluationRecord
from engine.storage.workspace import Workspace
from engine.training.loop import resolve_device
from engine.training.network_training import network_scorer


def scorer_for_run(workspace: Workspace, run: records.RunSummary, prepared: PreparedDataset,
                   device: str = "auto") -> StreamScorer:
    """The run's model as a StreamScorer: a baseline refitted on the run's training split (it is
    deterministic), or the trained network from its checkpoint."""
    train_log, _ = prepared.split(validation=run.validation)
    torch_device = resolve_device(device)
    entry = model_entry(run.model)
    if not entry.neural:
        assert entry.fit is not None
        return entry.fit(config_from_json(run.config), train_log, torch_device)
    checkpoint = open_run_checkpoint(workspace, run, torch_device, prepared.item_ids, prepared.user_ids)
    return network_scorer(checkpoint.network, run.model)


def dataset_settings(workspace: Workspace, dataset_id: int,
                     settings: EvaluationSettings = EvaluationSettings()) -> EvaluationSettings:
    """``settings`` with the dataset's candidates default (see
    :func:`engine.storage.catalog.evaluation_candidates`): what automatic evaluations, the Results
    panel and ``report`` use unless told otherwise."""
    return dataclasses.replace(settings, n_candidates=catalog.evaluation_candidates(workspace, dataset_id))


def settings_for_run(run: records.RunSummary, settings: EvaluationSettings) -> EvaluationSettings:
    """The paper-2017 compatibility switch of a run also applies to its evaluation (rank < K)."""
    if run.config.get("compat_2017") and not settings.compat_2017:
        return dataclasses.replace(settings, compat_2017=True)
    return settings


def _settings_key(settings: EvaluationSettings) -> str:
    """What makes ranks differ: tie mode, candidate set and the 2017 rank < K switch. The cut-offs K
    are not part of it (metrics at any K follow from the stored ranks), nor is the batch size."""
    return json.dumps({"tie_mode": settings.tie_mode, "n_candidates": settings.n_candidates,
                       "compat_2017": settings.compat_2017}, sort_keys=True)


def find_run_evaluation(workspace: Workspace, run: records.RunSummary,
                        settings: EvaluationSettings) -> tuple[EvaluationRecord, EvaluationSettings] | None:
    """The run's evaluation under ``settings`` as evaluating the run applies them (its own
    ``compat_2017``, see :func:`settings_for_run`), with those settings; None when there is none.
    Every lookup of a run's stored results goes through here (its ranks in another tie mode:
    :func:`find_run_ranks`)."""
    run_settings = settings_for_run(run, settings)
    evaluation = find_evaluation(workspace, run.id, run_settings)
    return None if evaluation is None else (evaluation, run_settings)


def has_tie_counts(evaluation: EvaluationRecord) -> bool:
    """Whether the evaluation stored each target's ties (every evaluation since migration 0011):
    then its ranks hold every tie mode."""
    return isinstance(evaluation.metrics, dict) and "ties" in evaluation.metrics


def stored_tie_mode(evaluation: EvaluationRecord) -> str:
    """The tie mode the evaluation's ranks were computed under."""
    return str(evaluation.settings.get("tie_mode", "standard"))


@dataclass(frozen=True, eq=False)
class RunRanks:
    """A run's per-event ranks under the asked settings: ``frame`` (EVENT_COLUMNS, ranks in the
    asked tie mode), the settings as applied to the run, and the evaluation they come from, which
    may have been computed under another tie mode (``source_tie_mode``) and converted exactly
    through its tie counts."""

    evaluation: EvaluationRecord
    settings: EvaluationSettings
    source_tie_mode: str
    frame: pd.DataFrame


def find_run_ranks(workspace: Workspace, run: records.RunSummary, settings: EvaluationSettings,
                   load: bool = True) -> RunRanks | None:
    """The run's ranks under ``settings``: from its evaluation under exactly those settings, or
    else from an evaluation with the same candidates that stored its tie counts (its ranks moved to
    ``settings.tie_mode``, see :func:`engine.evaluation.ties.convert_ranks`); None when neither
    exists. An evaluation that holds only another tie mode never serves: a table never mixes modes.
    ``load=False`` leaves ``frame`` empty (for listing what is there)."""
    run_settings = settings_for_run(run, settings)
    evaluation = find_evaluation(workspace, run.id, run_settings)
    if evaluation is None:
        for mode in TIE_MODES:
            if mode == run_settings.tie_mode:
                continue
            other = find_evaluation(workspace, run.id, dataclasses.replace(run_settings, tie_mode=mode))
            if other is not None and has_tie_counts(other):
                evaluation = other
                break
    if evaluation is None:
        return None
    source = stored_tie_mode(evaluation)
    frame = pd.DataFrame(columns=list(EVENT_COLUMNS))
    if load:
        frame = load_event_ranks(workspace, evaluation.id)
        if source != run_settings.tie_mode:
            frame["rank"] = convert_ranks(frame["rank"].to_numpy(), frame["tied"].to_numpy(), source,
                                          run_settings.tie_mode)
    frame.attrs["compat_2017"] = run_settings.compat_2017
    frame.attrs["tie_mode"] = run_settings.tie_mode
    return RunRanks(evaluation, run_settings, source, frame)


def other_tie_modes(workspace: Workspace, run: records.RunSummary, settings: EvaluationSettings) -> list[str]:
    """The tie modes of the run's evaluations with ``settings``' candidates that cannot serve
    ``settings.tie_mode`` (stored before tie counts were): what re-evaluating would replace."""
    run_settings = settings_for_run(run, settings)
    modes: list[str] = []
    for mode in TIE_MODES:
        found = find_evaluation(workspace, run.id, dataclasses.replace(run_settings, tie_mode=mode))
        if found is not None and mode != run_settings.tie_mode and not has_tie_counts(found):
            modes.append(mode)
    return modes


def find_evaluation(workspace: Workspace, run_id: int,
                    settings: EvaluationSettings | None = None) -> EvaluationRecord | None:
    """The evaluation stored under exactly ``settings`` (None: the run's latest); to look up a
    run's results under a dataset's settings use :func:`find_run_evaluation`."""
    return store.find_evaluation(workspace, run_id, None if settings is None else _settings_key(settings))


def evaluate_run(workspace: Workspace, run_id: int, settings: EvaluationSettings = EvaluationSettings(),
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                 prepared: PreparedDataset | None = None, device: str = "auto") -> EvaluationRecord:
    """Evaluate a finished run (an existing evaluation under the same settings is returned as is)."""
    run = records.get_run(workspace, run_id)
    if run.status != "finished":
        raise WorkbenchError(f"run {run_id} is {run.status}; only finished runs can be evaluated")
    settings = settings_for_run(run, settings)
    existing = find_evaluation(workspace, run_id, settings)
    if existing is not None:
        return existing
    prepared = prepared or load_prepared(workspace, run.dataset_id)
    scorer = scorer_for_run(workspace, run, prepared, device)
    train_log, test_log = prepared.split(validation=run.validation)
    result = evaluate(scorer, train_log, test_log, settings, progress, cancel)
    if result.n_nonfinite_targets:
        raise TrainingDiverged(
            f"run {run_id}'s model scores {result.n_nonfinite_targets:,} of {result.n_events:,} test targets as NaN "
            "or infinite: it has diverged, and its ranks would mean nothing; train it again with a lower learning "
            "rate (nothing was stored)")
    return store_evaluation(workspace, run_id, result)


def summary_metrics(result: EvaluationResult) -> dict[str, dict[str, float]]:
    """Averages per level ("event", "session", "user") and the tie statistics ("ties")."""
    return {**{level: result.mean_metrics(level) for level in ("event", "session", "user")},
            "ties": result.ties().as_dict()}


def store_evaluation(workspace: Workspace, run_id: int, result: EvaluationResult) -> EvaluationRecord:
    """Store an evaluation and its per-event ranks in one transaction (every per-session or
    per-user figure is computed from the ranks)."""
    settings = result.settings
    store.add_evaluation(workspace, {
        "run_id": run_id, "settings_key": _settings_key(settings), "settings": dataclasses.asdict(settings),
        "metrics": summary_metrics(result), "n_events": result.n_events, "seconds": result.seconds,
        "created_at": now_utc()}, {
        "idx": np.arange(result.n_events), "user": result.user, "session": result.session, "position": result.position,
        "session_length": result.session_length, "history_length": result.history_length, "item": result.item,
        "rank": result.rank, "tied": result.tied, "floor": result.floor})
    found = find_evaluation(workspace, run_id, settings)
    assert found is not None
    return found


EVENT_COLUMNS = ("user", "session", "position", "session_length", "history_length", "item", "rank", "tied", "floor")


def load_event_ranks(workspace: Workspace, evaluation_id: int) -> pd.DataFrame:
    """The per-event ranks of an evaluation as a frame (columns: EVENT_COLUMNS; ``tied`` and
    ``floor`` as floats, NaN in evaluations stored before tie counts were), ranks in the tie mode
    the evaluation was computed under."""
    dtypes: dict[str, type] = ({name: np.int64 for name in EVENT_COLUMNS}
                               | {"rank": np.float64, "tied": np.float64, "floor": np.float64})
    columns = store.read_event_ranks(workspace, evaluation_id, EVENT_COLUMNS, dtypes)
    if not len(columns["rank"]):
        raise NotFoundError(f"evaluation {evaluation_id} has no stored ranks")
    return pd.DataFrame(columns)
