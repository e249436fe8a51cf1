"""Inspection of one user: a dataset's users and runs, a run's stored ranks (its hits per user),
and a run's top-K at every step of a user's test session, recomputed from its checkpoint (or its
refitted baseline) with the same ranks as its evaluation."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.session_log import PreparedDataset
from engine.errors import WorkbenchError
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import DEFAULT_CUTOFFS, is_hit
from engine.evaluation.user_replay import StepRecommendations, UserSessions, recommend_test_session, user_sessions
from engine.progress import CancelToken, ProgressCallback
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, find_run_ranks, scorer_for_run
from engine.runs.labels import run_label
from engine.runs.models import MODELS
from engine.storage import catalog
from engine.storage.item_names import item_labels
from engine.storage.workspace import Workspace

log = logging.getLogger(__name__)

MAX_K = max(DEFAULT_CUTOFFS)
#: The hierarchical networks (the registry's order: HRNN Init before HRNN All), whose
#: recommendations Inspection puts beside their session twin's by default.
HRNN_MODELS = tuple(entry.name for entry in MODELS if entry.hierarchical)
#: The session-only twin of the hierarchical networks (RNN).
HRNN_TWIN = next(str(MODELS[name].session_twin) for name in HRNN_MODELS)

__all__ = ["HRNN_MODELS", "HRNN_TWIN", "MAX_K", "InspectionSnapshot", "StepRecommendations", "StoredRanks",
           "UserRecommendations", "UserSessions", "load_inspection", "load_stored_ranks", "recommend_for_user",
           "inspect_run_for_user", "user_sessions"]


@dataclass(frozen=True, eq=False)
class InspectionSnapshot:
    """A dataset's prepared sessions, its finished test-split runs (model order) with their labels,
    and its inspectable users (a test session of 2 or more events)."""

    dataset_id: int
    dataset_name: str
    prepared: PreparedDataset
    runs: list[records.RunSummary]
    labels: dict[int, str]  # run id -> "#3 RNN, small, epochs=1, seed 0"
    users: pd.DataFrame  # user (code), user_id (original), train_sessions, test_length
    item_labels: np.ndarray  # per item code: "id · name" where names are attached, else the original id

    def run(self, run_id: int) -> records.RunSummary:
        return next(run for run in self.runs if run.id == run_id)

    def rnn_and_hrnn(self, seed: int | None = None, hrnn_model: str | None = None) -> tuple[int, int] | None:
        """(HRNN run, RNN run) of one seed: ``seed`` if both exist for it, else the smallest such seed;
        the HRNN variant ``hrnn_model`` when there is one, else HRNN Init before HRNN All (RNN: their
        session twin, :data:`HRNN_TWIN`)."""
        variants = [hrnn_model] if hrnn_model in HRNN_MODELS else []
        variants += [model for model in HRNN_MODELS if model not in variants]
        rnn = {run.seed: run.id for run in reversed(self.runs) if run.model == HRNN_TWIN}
        for model in variants:
            hrnn = {run.seed: run.id for run in reversed(self.runs) if run.model == model}
            common = sorted(set(rnn) & set(hrnn))
            if common:
                chosen = seed if seed in common else common[0]
                return hrnn[chosen], rnn[chosen]
        return None


def load_inspection(url: str, dataset_id: int, previous: InspectionSnapshot | None, progress: ProgressCallback,
                    cancel: CancelToken) -> InspectionSnapshot:
    """The dataset's users and runs; the sessions of ``previous`` are reused, and ``previous``
    itself comes back when its runs are still the same."""
    if previous is not None and previous.dataset_id != dataset_id:
        previous = None
    progress(0.0, "reading the sessions")
    with Workspace(url) as workspace:
        prepared = previous.prepared if previous is not None else catalog.load_prepared(workspace, dataset_id)
        cancel.raise_if_cancelled()
        finished = [run for run in records.list_runs(workspace, dataset_id)
                    if run.status == "finished" and not run.validation]
        runs = sorted(finished, key=lambda r: (MODELS.index(r.model), r.preset or "", r.seed, r.id))
        name = next((d.name for d in catalog.list_datasets(workspace) if d.id == dataset_id), f"dataset {dataset_id}")
        labels = item_labels(workspace, dataset_id, prepared.item_ids)
    run_labels = {run.id: run_label(run) for run in runs}
    if previous is not None and [run.id for run in previous.runs] == [run.id for run in runs] \
            and np.array_equal(previous.item_labels, labels):
        if previous.labels == run_labels and previous.dataset_name == name:
            return previous
        return dataclasses.replace(previous, dataset_name=name, runs=runs, labels=run_labels)  # renamed since
    test_length = np.zeros(prepared.n_users, dtype=np.int64)
    test = prepared.test
    np.add.at(test_length, test.session_user, test.session_length)
    users = pd.DataFrame({"user": np.arange(prepared.n_users), "user_id": prepared.user_ids.astype(str),
                          "train_sessions": prepared.train.sessions_per_user, "test_length": test_length})
    users = users[users["test_length"] >= 2].reset_index(drop=True)
    return InspectionSnapshot(dataset_id, name, prepared, runs, run_labels, users, labels)


@dataclass(frozen=True, eq=False)
class StoredRanks:
    """A run's stored per-event ranks (user, position, item, rank), or why there are none."""

    run_id: int
    ranks: pd.DataFrame | None
    compat_2017: bool = False
    error: str | None = None

    def hits(self, k: int) -> pd.Series:
        """Hits@k per user (by the evaluation's hit rule)."""
        if self.ranks is None:
            return pd.Series(dtype=np.int64)
        hit = pd.Series(is_hit(self.ranks["rank"].to_numpy(), k, self.compat_2017), index=self.ranks.index)
        return hit.groupby(self.ranks["user"]).sum()

    def rank_at(self, user: int, position: int) -> float | None:
        if self.ranks is None:
            return None
        found = self.ranks[(self.ranks["user"] == user) & (self.ranks["position"] == position)]
        return float(found["rank"].iloc[0]) if len(found) else None


def load_stored_ranks(url: str, run_id: int, progress: ProgressCallback, cancel: CancelToken) -> StoredRanks:
    """The ranks of the run's evaluation under its dataset's setting (the one Results shows)."""
    progress(0.0, f"reading the ranks of run {run_id}")
    with Workspace(url) as workspace:
        run = records.get_run(workspace, run_id)
        found = find_run_ranks(workspace, run, dataset_settings(workspace, run.dataset_id))
        if found is None:
            return StoredRanks(run_id, None, error=f"run {run_id} has no evaluation yet")
    return StoredRanks(run_id, found.frame[["user", "position", "item", "rank", "tied"]], found.settings.compat_2017)


def inspect_run_for_user(workspace: Workspace, run_id: int, user: int, k: int = 10,
                         prepared: PreparedDataset | None = None,
                         settings: EvaluationSettings = EvaluationSettings()) -> list[StepRecommendations]:
    """:func:`recommend_test_session` for a stored run (CheckpointMissing when its checkpoint file is
    gone, CheckpointError when it is not the one the run saved)."""
    run = records.get_run(workspace, run_id)
    prepared = prepared or catalog.load_prepared(workspace, run.dataset_id)
    return recommend_test_session(scorer_for_run(workspace, run, prepared, "cpu"), prepared, user, k, settings,
                                  run.validation)


@dataclass(frozen=True, eq=False)
class UserRecommendations:
    """A run's top-``MAX_K`` at every step of a user's test session, or why it cannot be computed."""

    run_id: int
    user: int
    steps: list[StepRecommendations] | None
    error: str | None = None


def recommend_for_user(url: str, run_id: int, user: int, prepared: PreparedDataset, progress: ProgressCallback,
                       cancel: CancelToken) -> UserRecommendations:
    progress(0.0, f"recommendations of run {run_id}")
    with Workspace(url) as workspace:
        try:
            run = records.get_run(workspace, run_id)
            settings = dataclasses.replace(dataset_settings(workspace, run.dataset_id), ks=DEFAULT_CUTOFFS)
            steps = inspect_run_for_user(workspace, run_id, user, MAX_K, prepared, settings)
        except WorkbenchError as exc:
            log.info("run %d cannot be inspected: %s", run_id, exc)
            return UserRecommendations(run_id, user, None, str(exc))
        except (OSError, RuntimeError) as exc:  # an unreadable or incompatible checkpoint file
            log.exception("run %d cannot be inspected", run_id)
            return UserRecommendations(run_id, user, None, f"{type(exc).__name__}: {exc}")
    return UserRecommendations(run_id, user, steps)
