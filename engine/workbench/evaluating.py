"""Evaluating stored runs on a shell's request: the settings it asks for (cut-offs, tie handling,
candidates: the dataset's setting unless told otherwise), the runs an evaluation of a whole
dataset covers, and each run's evaluation as the shells list it (the command line's ``evaluate``;
the desktop app's Results panel evaluates through :func:`engine.workbench.results.evaluate_runs`,
which uses the same :func:`engine.runs.evaluate_run.evaluate_run`)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.popularity import candidates_label, candidates_phrase
from engine.evaluation.ranking import TieMode
from engine.evaluation.significance import Level
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run
from engine.runs.labels import model_label
from engine.storage import catalog
from engine.storage.catalog import LARGE_CATALOG_CANDIDATES, LARGE_CATALOG_ITEMS
from engine.storage.workspace import Workspace

__all__ = ["LARGE_CATALOG_CANDIDATES", "LARGE_CATALOG_ITEMS", "EvaluationSettings", "Level", "RunEvaluation",
           "candidates_label", "candidates_phrase", "dataset_settings", "evaluate_stored_run", "evaluation_settings",
           "finished_runs"]


def evaluation_settings(workspace: Workspace, dataset_id: int, ks: Sequence[int], tie_mode: TieMode,
                        candidates: int | None = None) -> EvaluationSettings:
    """The settings a shell asks for: cut-offs ``ks`` (sorted, once each) and ``tie_mode``, ranking
    among the ``candidates`` most popular items (0: all items; None: the dataset's setting)."""
    settings = EvaluationSettings(ks=tuple(sorted(set(ks))), tie_mode=tie_mode)
    if candidates is None:
        return dataset_settings(workspace, dataset_id, settings)
    return dataclasses.replace(settings, n_candidates=candidates or None)


def finished_runs(workspace: Workspace, dataset: str | int) -> list[records.RunSummary]:
    """The dataset's (id or name) finished runs on its test split, oldest first."""
    dataset_id = catalog.get_dataset(workspace, dataset).id
    return [run for run in records.list_runs(workspace, dataset_id) if run.status == "finished" and not run.validation]


@dataclass(frozen=True)
class RunEvaluation:
    """A run's evaluation as the shells list it: the run and its label, the settings it was asked
    for, the events ranked, the averages over events (``{"recall@5": 0.31, ...}``) and the share of
    targets tied with at least one other item (None in evaluations stored before tie counts)."""

    run: records.RunSummary
    label: str
    settings: EvaluationSettings
    n_events: int
    metrics: dict[str, float]
    tied_share: float | None


def evaluate_stored_run(workspace: Workspace, run_id: int, ks: Sequence[int], tie_mode: TieMode,
                        candidates: int | None = None) -> RunEvaluation:
    """Evaluate a finished run under :func:`evaluation_settings` of its dataset (an evaluation
    already stored under them is kept)."""
    run = records.get_run(workspace, run_id)
    settings = evaluation_settings(workspace, run.dataset_id, ks, tie_mode, candidates)
    evaluation = evaluate_run(workspace, run_id, settings)
    ties = evaluation.metrics.get("ties", {})
    return RunEvaluation(run, model_label(run), settings, evaluation.n_events,
                         {key: float(value) for key, value in evaluation.metrics["event"].items()},
                         ties.get("tied_share"))
