"""Shared set-up of the Results and Inspection panel tests (no tests here): a workspace with the
demo dataset and a few quickly trained, evaluated runs, one of them without its checkpoint; runs
with hand-made ranks; an evaluation made to look like one stored before tie counts were."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import text

from engine.evaluation.evaluator import EvaluationResult, EvaluationSettings
from engine.runs import records
from engine.runs.checkpoints import checkpoint_location
from engine.runs.evaluate_run import evaluate_run, store_evaluation
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.storage.workspace import Workspace
from engine.workbench.demo import ensure_demo_dataset

#: model -> seeds; neural models train one epoch
RUNS = {"pop": (0,), "personal-pop": (0,), "rnn": (0, 1), "hrnn-init": (0, 1), "rnn-concat": (0,)}
WITHOUT_CHECKPOINT = "rnn-concat"


def build_evaluated_workspace(folder: Path) -> tuple[Path, int, dict[str, list[int]]]:
    """(workspace path, dataset id, run ids by model); the RNN Concat run's checkpoint is deleted."""
    path = folder / "workspace.sqlite"
    run_ids: dict[str, list[int]] = {}
    with Workspace(path) as workspace:
        dataset_id = ensure_demo_dataset(workspace, folder).dataset_id
        for model, seeds in RUNS.items():
            overrides = {} if model in ("pop", "personal-pop") else {"epochs": 1}
            run_ids[model] = plan_runs(workspace, dataset_id, model, list(seeds), overrides=overrides, device="cpu")
            for run_id in run_ids[model]:
                assert execute_run(workspace, run_id).status == "finished"
                evaluate_run(workspace, run_id, device="cpu")
        os.remove(checkpoint_location(workspace, records.get_run(workspace, run_ids[WITHOUT_CHECKPOINT][0])))
    return path, dataset_id, run_ids


def fake_evaluated_run(workspace: Workspace, dataset_id: int, model: str, seed: int, ranks: Sequence[float], *,
                       user: np.ndarray, session: np.ndarray, position: np.ndarray, history: np.ndarray,
                       session_length: int, tied: Sequence[int] | None = None,
                       floor: Sequence[bool] | None = None, settings: EvaluationSettings = EvaluationSettings()) -> int:
    """A finished run of ``model`` (nothing trained) whose evaluation under ``settings`` (conservative
    ties by default) has the given per-event ranks of the test events (user, session, position,
    history length) and their ``tied`` items (none by default) and ``floor`` flags; items 0, 1, 2, …"""
    (run_id,) = plan_runs(workspace, dataset_id, model, [seed])
    records.start_run(workspace, run_id, "cpu")
    records.finish_run(workspace, run_id, None)
    n = len(ranks)
    store_evaluation(workspace, run_id, EvaluationResult(
        settings=settings, user=user, session=session, position=position,
        session_length=np.full(n, session_length), history_length=history, item=np.arange(n),
        rank=np.asarray(ranks, dtype=np.float64), n_items_ranked=100,
        tied=np.zeros(n, dtype=np.int64) if tied is None else np.asarray(tied, dtype=np.int64),
        floor=np.zeros(n, dtype=bool) if floor is None else np.asarray(floor, dtype=bool), n_nonfinite_targets=0,
        consumed_events=2 * n, seconds=0.0))
    return run_id


def as_before_tie_counts(workspace: Workspace, evaluation_id: int) -> None:
    """Make a stored evaluation look like one of a version before migration 0011 (evaluate it with
    ``tie_mode="standard"`` first: optimistic ranks were all those versions stored): NULL tie
    columns, no tie statistics among its metrics."""
    with workspace.engine.begin() as connection:
        connection.execute(text("UPDATE event_ranks SET tied = NULL, floor = NULL WHERE evaluation_id = :e"),
                           {"e": evaluation_id})
        connection.execute(text("UPDATE evaluations SET metrics = json_remove(metrics, '$.ties') WHERE id = :e"),
                           {"e": evaluation_id})
