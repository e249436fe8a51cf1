"""Batched sequential next-item evaluation of a StreamScorer on the test sessions.

B slots each hold one user. A slot feeds the user's stream (see :mod:`engine.evaluation.streams`)
one event per step; after a test event whose session has a next event, the scorer is asked for
the scores of the next item of that slot and the next event's item (the target) is ranked. A slot
whose user is done takes the next user; at the end the batch shrinks until every user is done.

Position of a prediction: ``position = n`` for the prediction made after consuming the first n
events of the test session, i.e. the target is the session's event n + 1. So position 1 is the
first prediction of a session (its 2nd event), and a session of L events has positions 1..L-1.
The position breakdown's "events 1-2" (beginning) are thus the first two predictions.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import torch

from engine.data.session_log import SessionLog
from engine.errors import EmptyResultError, InputError
from engine.evaluation.metrics import mean_metrics
from engine.evaluation.popularity import item_popularity, most_popular_mask
from engine.evaluation.ranking import (
    DEFAULT_TIE_MODE,
    TIE_MODES,
    TargetRanks,
    TieMode,
    rank_among_candidates,
    rank_among_columns,
    rank_targets_with_ties,
)
from engine.evaluation.stream_scorer import StreamScorer
from engine.evaluation.streams import build_streams
from engine.evaluation.ties import TieSummary
from engine.progress import CancelToken, ProgressCallback, no_progress

logger = logging.getLogger(__name__)

_PROGRESS_EVERY_STEPS = 50


@dataclass(frozen=True)
class EvaluationSettings:
    """How targets are ranked and metrics computed."""

    ks: tuple[int, ...] = (5, 10, 20)  # cut-offs of Recall/MRR/Precision@K
    tie_mode: TieMode = DEFAULT_TIE_MODE  # how items scored like the target count (conservative: above it)
    #: None: rank among all items; N: among the N most popular training items plus the target
    n_candidates: int | None = None
    batch_size: int = 256  # parallel slots (users)
    compat_2017: bool = False  # count hits as rank < K, as the 2017 reference code did

    def __post_init__(self) -> None:
        if not self.ks or any(int(k) != k or k < 1 for k in self.ks):
            raise InputError(f"cut-offs K must be positive integers, got {self.ks}")
        if self.tie_mode not in TIE_MODES:
            raise InputError(f"tie mode {self.tie_mode!r} is not one of {', '.join(TIE_MODES)}")
        if self.n_candidates is not None and self.n_candidates < 1:
            raise InputError(f"the number of candidate items must be positive, got {self.n_candidates}")
        if self.batch_size < 1:
            raise InputError(f"the evaluation batch size must be positive, got {self.batch_size}")


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Per-event ranks of one evaluation, ordered by (user, session, position), and their averages."""

    settings: EvaluationSettings
    user: np.ndarray  # int64 [T]
    session: np.ndarray  # int64 [T]: index of the test session in the test log
    position: np.ndarray  # int64 [T]: test events consumed before this prediction (1 = predicting the 2nd event)
    session_length: np.ndarray  # int64 [T]: events in the test session
    history_length: np.ndarray  # int64 [T]: the user's training sessions
    item: np.ndarray  # int64 [T]: target item
    rank: np.ndarray  # float64 [T]: 1 = best (x.5 possible in the median tie mode)
    tied: np.ndarray  # int64 [T]: other competing items scored exactly like the target
    floor: np.ndarray  # bool [T]: no competing item scored below the target (the model gave it nothing)
    n_items_ranked: int  # items competing per prediction (all items, or N most popular + target; at most)
    n_nonfinite_targets: int  # predictions whose target was scored NaN (ranked last) or infinite
    consumed_events: int  # events fed to the scorer, history included
    seconds: float  # wall-clock duration of the evaluation
    metrics: dict[str, float] = field(default_factory=dict)  # averages over events

    @property
    def n_events(self) -> int:
        return int(len(self.rank))

    def mean_metrics(self, level: Literal["event", "session", "user"] = "event") -> dict[str, float]:
        """Metrics averaged over events, or over sessions / users of their per-event averages."""
        groups = {"event": None, "session": self.session, "user": self.user}[level]
        return mean_metrics(self.rank, self.settings.ks, self.settings.compat_2017, groups)

    def ties(self) -> TieSummary:
        """How often targets were tied, with how many items, and how often given nothing."""
        return TieSummary.of(self.tied, self.floor)

    def to_frame(self) -> pd.DataFrame:
        """One row per prediction: user, session, position, session_length, history_length, item, rank,
        tied, floor."""
        return pd.DataFrame({
            "user": self.user, "session": self.session, "position": self.position,
            "session_length": self.session_length, "history_length": self.history_length,
            "item": self.item, "rank": self.rank, "tied": self.tied, "floor": self.floor,
        })


def _rank_all(scorer: StreamScorer, slots: np.ndarray, targets: np.ndarray, n_items: int,
              tie_mode: TieMode) -> tuple[TargetRanks, int]:
    """Ranks and ties [b] of ``targets`` among all items, and how many targets were scored NaN."""
    scores = scorer.scores(slots)  # [b, n_items]
    if scores.shape != (len(slots), n_items):
        raise ValueError(f"scorer returned scores of shape {tuple(scores.shape)}, expected {(len(slots), n_items)}")
    target = torch.from_numpy(targets).to(scores.device)  # [b]
    n_nonfinite = int((~torch.isfinite(scores.gather(1, target.unsqueeze(1)))).sum())
    return rank_targets_with_ties(scores, target, tie_mode), n_nonfinite


def _rank_candidates(scorer: StreamScorer, slots: np.ndarray, targets: np.ndarray, candidates: np.ndarray,
                     tie_mode: TieMode) -> tuple[TargetRanks, int]:
    """Ranks and ties [b] of ``targets`` among the ``candidates`` (item codes, ascending) and themselves,
    from the scores of those columns only (``candidate_scores`` or ``scores_of`` when the scorer has
    them)."""
    candidate_scores = getattr(scorer, "candidate_scores", None)
    if candidate_scores is not None:
        among, target_scores = candidate_scores(slots, candidates, targets)
        if among.shape != (len(slots), len(candidates)) or target_scores.shape != (len(slots),):
            raise ValueError(f"scorer returned candidate scores of shapes {tuple(among.shape)} and "
                             f"{tuple(target_scores.shape)}, expected {(len(slots), len(candidates))} "
                             f"and {(len(slots),)}")
        device = among.device
        n_nonfinite = int((~torch.isfinite(target_scores)).sum())
        return rank_among_candidates(among, target_scores, torch.from_numpy(candidates).to(device),
                                     torch.from_numpy(targets).to(device), tie_mode), n_nonfinite
    columns = np.concatenate([candidates, targets])  # [N + b]
    scores_of = getattr(scorer, "scores_of", None)
    if scores_of is not None:
        scores = scores_of(slots, columns)
    else:
        full = scorer.scores(slots)
        scores = full[:, torch.from_numpy(columns).to(full.device)]
    expected = (len(slots), len(columns))
    if scores.shape != expected:
        raise ValueError(f"scorer returned scores of shape {tuple(scores.shape)}, expected {expected}")
    n_nonfinite = int((~torch.isfinite(scores[:, len(candidates):].diagonal())).sum())
    return rank_among_columns(scores, torch.from_numpy(candidates).to(scores.device),
                              torch.from_numpy(targets).to(scores.device), tie_mode), n_nonfinite


def _rank_targets(scorer: StreamScorer, predicting: np.ndarray, target_items: np.ndarray,
                  candidates: np.ndarray | None, n_items: int, tie_mode: TieMode) -> tuple[TargetRanks, int]:
    """The targets' ranks among every item, or among the candidates; and how many targets were scored
    NaN or infinite."""
    if candidates is None:
        return _rank_all(scorer, predicting, target_items, n_items, tie_mode)
    return _rank_candidates(scorer, predicting, target_items, candidates, tie_mode)


def evaluate(
    scorer: StreamScorer, train: SessionLog, test: SessionLog,
    settings: EvaluationSettings = EvaluationSettings(), progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> EvaluationResult:
    """Rank every test event but each session's first under ``scorer`` (see the module docstring).

    Users with no test session of at least 2 events are skipped. Raises InputError when the scorer
    does not score the training items, EmptyResultError when nothing is left to predict, and
    Cancelled through ``cancel``.
    """
    started = time.perf_counter()
    if scorer.n_items != train.n_items:
        raise InputError(f"the model scores {scorer.n_items} items but the dataset has {train.n_items}")
    streams = build_streams(train, test, scorer.history_feed)
    n_users = len(streams.users)
    if n_users == 0:
        raise EmptyResultError("no test session has 2 or more events: nothing to predict")
    candidates = None
    if settings.n_candidates is not None and settings.n_candidates < train.n_items:
        candidates = np.flatnonzero(most_popular_mask(item_popularity(train), settings.n_candidates))
    n_slots = min(settings.batch_size, n_users)
    scorer.reset(n_slots)
    cursor = np.zeros(n_slots, dtype=np.int64)  # [B] next stream event of each slot
    end = np.zeros(n_slots, dtype=np.int64)  # [B] end of each slot's stream
    rank_of_event = np.full(streams.n_events, np.nan)  # [L] rank of the target predicted after event l
    tied_of_event = np.zeros(streams.n_events, dtype=np.int64)  # [L] items tied with that target
    floor_of_event = np.zeros(streams.n_events, dtype=bool)  # [L] that target at the bottom
    next_user, step, n_nonfinite, n_consumed = 0, 0, 0, 0
    observe_times = getattr(scorer, "observe_times", None)
    while True:
        if cancel is not None:
            cancel.raise_if_cancelled()
        free = np.flatnonzero(cursor >= end)
        if len(free) and next_user < n_users:
            slots = free[: n_users - next_user]
            new = np.arange(next_user, next_user + len(slots))
            cursor[slots], end[slots] = streams.offsets[new], streams.offsets[new + 1]
            scorer.assign(slots, streams.users[new])
            next_user += len(slots)
        active = cursor < end  # [B]
        if not active.any():
            break
        event = np.where(active, cursor, 0)  # [B] stream index (0 where inactive)
        if observe_times is not None:
            observe_times(streams.time[event], active)
        scorer.consume(streams.item[event], streams.session_start[event] & active, active)
        target_event = np.where(active, streams.target_event[event], -1)  # [B]
        predicting = np.flatnonzero(target_event >= 0)
        if len(predicting):
            target_items = test.item[target_event[predicting]]  # [b]
            ranks, nonfinite_targets = _rank_targets(scorer, predicting, target_items, candidates, train.n_items,
                                                     settings.tie_mode)
            n_nonfinite += nonfinite_targets
            rank_of_event[event[predicting]] = ranks.rank.cpu().numpy()
            tied_of_event[event[predicting]] = ranks.tied.cpu().numpy()
            floor_of_event[event[predicting]] = ranks.floor.cpu().numpy()
        cursor[active] += 1
        n_consumed += int(active.sum())
        step += 1
        if step % _PROGRESS_EVERY_STEPS == 0:
            progress(n_consumed / streams.n_events, f"evaluated {n_consumed} of {streams.n_events} events")
    progress(1.0, f"evaluated {n_users} users")

    predicted = streams.target_event >= 0
    order = np.argsort(streams.target_event[predicted], kind="stable")
    target = streams.target_event[predicted][order]  # [T] test-log index of each target, ascending
    rank = rank_of_event[predicted][order]  # [T]
    tied = tied_of_event[predicted][order]  # [T]
    floor = floor_of_event[predicted][order]  # [T]
    session = test.session[target]
    user = test.user[target]
    if n_nonfinite:
        logger.warning("%d of %d targets were scored NaN (ranked last) or infinite", n_nonfinite, len(target))
    ranked_among = train.n_items if candidates is None else min(len(candidates) + 1, train.n_items)
    result = EvaluationResult(
        settings=settings,
        user=user,
        session=session,
        position=target - test.session_offsets[session],
        session_length=test.session_length[session],
        history_length=train.sessions_per_user[user],
        item=test.item[target],
        rank=rank,
        tied=tied,
        floor=floor,
        n_items_ranked=int(ranked_among),
        n_nonfinite_targets=n_nonfinite,
        consumed_events=streams.n_events,
        seconds=time.perf_counter() - started,
        metrics=mean_metrics(rank, settings.ks, settings.compat_2017),
    )
    logger.info("evaluated %d predictions of %d users in %.1f s", result.n_events, n_users, result.seconds)
    return result
