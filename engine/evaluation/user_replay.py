"""Replaying one user through a scorer: the user's sessions, and the top-K with the target's rank
at every step of the user's test session, the same ranks the evaluator gives (inspection)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data.session_log import PreparedDataset, SessionLog
from engine.errors import InputError
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.popularity import item_popularity, most_popular_mask
from engine.evaluation.ranking import rank_targets_with_ties
from engine.evaluation.stream_scorer import StreamScorer
from engine.evaluation.streams import build_streams


@dataclass(frozen=True, eq=False)
class UserSessions:
    """A user's sessions in time order: items (dense codes) and start times (unix seconds)."""

    user: int
    train_items: list[np.ndarray]  # one int64 array per training session
    train_starts: np.ndarray  # float64 [S]
    test_items: np.ndarray  # int64 [L], empty when the user has no test session
    test_start: float | None


def user_sessions(prepared: PreparedDataset, user: int, validation: bool = False) -> UserSessions:
    train, test = prepared.split(validation)
    if not 0 <= user < prepared.n_users:
        raise InputError(f"no user {user} in this dataset (codes 0..{prepared.n_users - 1})")

    def sessions(log: SessionLog) -> tuple[list[np.ndarray], np.ndarray]:
        first, last = log.user_session_offsets[user], log.user_session_offsets[user + 1]
        offsets = log.session_offsets
        return ([log.item[offsets[s]:offsets[s + 1]] for s in range(first, last)],
                log.time[offsets[first:last]] if last > first else np.zeros(0))

    train_items, train_starts = sessions(train)
    test_items, test_starts = sessions(test)
    return UserSessions(user, train_items, train_starts,
                        test_items[-1] if test_items else np.zeros(0, dtype=np.int64),
                        float(test_starts[-1]) if len(test_starts) else None)


@dataclass(frozen=True, eq=False)
class StepRecommendations:
    """The top-K after consuming ``position`` events of the test session, and the next item's rank."""

    position: int  # 1 = after the session's first event (predicting its second)
    consumed_item: int
    top_items: np.ndarray  # int64 [K], best first
    top_scores: np.ndarray  # float32 [K], raw scores
    target_item: int
    target_rank: float  # rank among all items (or the evaluation's candidates), settings' tie mode
    target_tied: int = 0  # competing items scored exactly like the target


def _single_user(log: SessionLog, user: int) -> SessionLog:
    return log.select_sessions(log.session_user == user)


def recommend_test_session(scorer: StreamScorer, prepared: PreparedDataset, user: int, k: int = 10,
                           settings: EvaluationSettings = EvaluationSettings(),
                           validation: bool = False) -> list[StepRecommendations]:
    """Replay ``user``'s stream (history as the scorer needs it, then the test session) through
    ``scorer`` in one slot, and return the top-``k`` and the target's rank at every test step:
    the same ranks as the evaluator gives."""
    train, test = prepared.split(validation)
    user_test = _single_user(test, user)
    streams = build_streams(_single_user(train, user), user_test, scorer.history_feed)
    if len(streams.users) == 0:
        raise InputError(f"user {user} has no test session of 2 or more events: nothing to inspect")
    candidates = None
    if settings.n_candidates is not None and settings.n_candidates < train.n_items:
        candidates = torch.from_numpy(most_popular_mask(item_popularity(train), settings.n_candidates))
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([user]))
    steps: list[StepRecommendations] = []
    one = np.ones(1, dtype=bool)
    observe_times = getattr(scorer, "observe_times", None)
    for index in range(streams.n_events):
        if observe_times is not None:
            observe_times(streams.time[index:index + 1], one)
        scorer.consume(streams.item[index:index + 1], streams.session_start[index:index + 1], one)
        target_event = int(streams.target_event[index])
        if target_event < 0:
            continue
        scores = scorer.scores(np.array([0]))  # [1, n_items]
        target = int(user_test.item[target_event])
        ranked = rank_targets_with_ties(scores, torch.tensor([target], device=scores.device), settings.tie_mode,
                                        None if candidates is None else candidates.to(scores.device))
        shown = scores[0] if candidates is None else scores[0].masked_fill(~candidates.to(scores.device), -np.inf)
        values, items = torch.topk(shown.float(), min(k, shown.shape[0]))
        steps.append(StepRecommendations(len(steps) + 1, int(streams.item[index]), items.cpu().numpy(),
                                         values.cpu().numpy(), target, float(ranked.rank[0]),
                                         int(ranked.tied[0])))
    return steps
