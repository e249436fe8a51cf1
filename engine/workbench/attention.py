"""Where SASRec's prediction comes from, for one user: the attention of its last block (summed over
heads and divided by their number) from each prediction of the user's test session over the events
it read, on the user's timeline across sessions (Inspection's attention view).

The user is replayed exactly as the evaluator feeds them (:func:`engine.evaluation.streams.build_streams`):
SASRec reads the user's training events in time order across sessions, then the test session's
prefix; its session-only twin reads the test session alone. The prediction after the test
session's p-th event attends to at most the last L events read; every other event gets 0, so each
prediction's weights sum to 1 over the events shown.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from engine.data.session_log import PreparedDataset, SessionLog
from engine.errors import InputError, WorkbenchError
from engine.evaluation.streams import build_streams
from engine.models.sasrec_scorer import SASRecStreamScorer
from engine.progress import CancelToken, ProgressCallback
from engine.runs import records
from engine.runs.evaluate_run import scorer_for_run
from engine.runs.models import model_entry
from engine.storage import catalog
from engine.storage.workspace import Workspace
from engine.training.sasrec_config import SASREC_MODELS

log = logging.getLogger(__name__)

__all__ = ["SASREC_MODELS", "AttentionTimeline", "UserAttention", "attention_for_user", "sasrec_attention"]


@dataclass(frozen=True, eq=False)
class AttentionTimeline:
    """A SASRec run's attention for every prediction of one user's test session.

    The events are those the model read, oldest first: the user's training events (SASRec; none
    for the twin), then the test session without its last event. ``weights[p - 1]`` is the
    attention of the prediction after the test session's p-th event over them (0 on events read
    later and on events older than the last ``max_length``); each row sums to 1."""

    run_id: int
    user: int
    model: str
    max_length: int
    item: np.ndarray  # int64 [E]: item of each event read
    time: np.ndarray  # float64 [E]: its unix seconds
    session: np.ndarray  # int64 [E]: its session among the user's (training sessions 0..S-1, the test session S)
    position: np.ndarray  # int64 [E]: its place in its session (1 = the session's first event)
    test: np.ndarray  # bool [E]: the event belongs to the test session
    weights: np.ndarray  # float64 [P, E]
    targets: np.ndarray  # int64 [P]: the item each prediction had to find

    @property
    def n_predictions(self) -> int:
        return int(len(self.targets))

    def at(self, position: int) -> np.ndarray:
        """float64 [E]: the attention of the prediction after the test session's ``position``-th event."""
        if not 1 <= position <= self.n_predictions:
            raise InputError(f"the test session has predictions 1..{self.n_predictions}, not {position}")
        return self.weights[position - 1]


def _single_user(log: SessionLog, user: int) -> SessionLog:
    return log.select_sessions(log.session_user == user)


def sasrec_attention(workspace: Workspace, run_id: int, user: int,
                     prepared: PreparedDataset | None = None) -> AttentionTimeline:
    """The attention of SASRec run ``run_id`` for every prediction of ``user``'s test session
    (InputError for a run of another model or a user with nothing to predict; CheckpointMissing or
    CheckpointError when the run's checkpoint cannot be used)."""
    run = records.get_run(workspace, run_id)
    entry = model_entry(run.model)
    prepared = prepared or catalog.load_prepared(workspace, run.dataset_id)
    scorer = scorer_for_run(workspace, run, prepared, "cpu") if entry.neural else None
    if not isinstance(scorer, SASRecStreamScorer):
        raise InputError(f"run {run_id} is {entry.label}: attention is shown for SASRec runs")
    train, test = prepared.split(run.validation)
    user_train, user_test = _single_user(train, user), _single_user(test, user)
    streams = build_streams(user_train, user_test, scorer.history_feed)
    if len(streams.users) == 0:
        raise InputError(f"user {user} has no test session of 2 or more events: nothing to inspect")
    n_history = streams.n_events - (user_test.n_events - user_test.n_sessions)
    test_session = user_train.n_sessions
    if scorer.history_feed == "none":  # the twin reads the test session alone
        session = np.full(streams.n_events, test_session, dtype=np.int64)
    else:  # every training event, session after session, then the test session's
        session = np.r_[np.repeat(np.arange(test_session), user_train.session_length),
                        np.full(streams.n_events - n_history, test_session)].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
    position = np.arange(streams.n_events) - np.repeat(starts, np.diff(np.r_[starts, streams.n_events])) + 1
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([user]))
    one = np.ones(1, dtype=bool)
    rows: list[np.ndarray] = []
    targets: list[int] = []
    for index in range(streams.n_events):
        scorer.observe_times(streams.time[index:index + 1], one)
        scorer.consume(streams.item[index:index + 1], streams.session_start[index:index + 1], one)
        target_event = int(streams.target_event[index])
        if target_event < 0:
            continue
        shown = scorer.attention(0)  # [n] over the last n events read
        row = np.zeros(streams.n_events)
        row[index + 1 - len(shown): index + 1] = shown
        rows.append(row)
        targets.append(int(user_test.item[target_event]))
    return AttentionTimeline(run_id, user, run.model, scorer.network.spec.max_length, streams.item.copy(),
                             streams.time.copy(), session, position.astype(np.int64),
                             np.arange(streams.n_events) >= n_history, np.vstack(rows), np.asarray(targets))


@dataclass(frozen=True, eq=False)
class UserAttention:
    """A run's attention timeline for one user, or why there is none."""

    run_id: int
    user: int
    timeline: AttentionTimeline | None
    error: str | None = None


def attention_for_user(url: str, run_id: int, user: int, prepared: PreparedDataset, progress: ProgressCallback,
                       cancel: CancelToken) -> UserAttention:
    """:func:`sasrec_attention` in the workspace at ``url`` (a background job's work)."""
    progress(0.0, f"attention of run {run_id}")
    with Workspace(url) as workspace:
        try:
            timeline = sasrec_attention(workspace, run_id, user, prepared)
        except WorkbenchError as exc:
            log.info("run %d shows no attention: %s", run_id, exc)
            return UserAttention(run_id, user, None, str(exc))
        except (OSError, RuntimeError) as exc:  # an unreadable or incompatible checkpoint file
            log.exception("run %d shows no attention", run_id)
            return UserAttention(run_id, user, None, f"{type(exc).__name__}: {exc}")
    return UserAttention(run_id, user, timeline)
