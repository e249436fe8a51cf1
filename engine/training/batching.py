"""Parallel mini-batch schedules: which (input, target) pair each of B slots trains on at each step.

A *stream* is what one slot walks through before it takes the next one: a session (RNN), a user's
concatenated sessions (RNN Concat) or a user's sessions with their boundaries (HRNN). A stream is a
sequence of *pairs*: event ``e`` is the input and event ``e + 1`` the target, so a session of L
events gives L - 1 pairs and sessions of one event give none (they are skipped). When a slot's
stream ends, the slot takes the next stream in order (the lowest slot index first when several
free up at once) and its state is reset. Without streams left, the slot goes idle and the batch
shrinks until every pair has been trained on once (``batch_end="shrink"``), or the epoch ends at
the first slot that cannot be refilled, as in the 2017 reference code
(``batch_end="stop_at_first_exhausted"``; the pairs still in other slots are dropped).
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass

import numpy as np

from engine.data.session_log import SessionLog

logger = logging.getLogger(__name__)

BatchEnd = str  # "shrink" or "stop_at_first_exhausted"


@dataclass(frozen=True, eq=False)
class EpochSchedule:
    """The pairs of one epoch laid out as steps x slots. ``pair_input[t, b]`` is the log index of
    the input event of slot b at step t (its target is the next event), -1 where the slot is idle."""

    pair_input: np.ndarray  # int64 [T, B]
    stream_start: np.ndarray  # bool [T, B]: first pair of the slot's stream (reset every state)
    session_start: np.ndarray  # bool [T, B]: first pair of a session (implied by stream_start)

    @property
    def n_steps(self) -> int:
        return int(self.pair_input.shape[0])

    @property
    def active(self) -> np.ndarray:
        """bool [T, B]: slots holding a pair."""
        return self.pair_input >= 0

    @property
    def n_pairs(self) -> int:
        return int(self.active.sum())


def _pair_inputs(log: SessionLog, across_sessions: bool) -> np.ndarray:
    """int64 [P]: every event that has a next event in its session (or, ``across_sessions``, in
    its user's history), in log order."""
    same = log.user[1:] == log.user[:-1]
    if not across_sessions:
        same &= log.session[1:] == log.session[:-1]
    return np.flatnonzero(same).astype(np.int64)


def _layout(
    pairs: np.ndarray, stream_offsets: np.ndarray, order: np.ndarray, batch_size: int,
    batch_end: BatchEnd, session_first: np.ndarray,
) -> EpochSchedule:
    """Place streams (``pairs[stream_offsets[k]:stream_offsets[k+1]]``, taken in ``order``) on
    ``batch_size`` slots; ``session_first[e]`` says event e opens a session."""
    lengths = np.diff(stream_offsets)[order]
    keep = lengths > 0
    order, lengths = order[keep], lengths[keep]
    free = [(0, slot) for slot in range(batch_size)]  # (step at which the slot frees up, slot)
    heapq.heapify(free)
    start = np.empty(len(order), dtype=np.int64)
    slot = np.empty(len(order), dtype=np.int64)
    for k, length in enumerate(lengths.tolist()):
        t, b = heapq.heappop(free)
        start[k], slot[k] = t, b
        heapq.heappush(free, (t + length, b))
    final_free = [t for t, _ in free]
    n_steps = max(final_free) if batch_end == "shrink" else min(final_free)
    total = int(lengths.sum())
    first_of_stream = (np.cumsum(lengths) - lengths).astype(np.int64)
    within = np.arange(total, dtype=np.int64) - np.repeat(first_of_stream, lengths)
    step = np.repeat(start, lengths) + within
    slots = np.repeat(slot, lengths)
    pair_event = pairs[np.repeat(stream_offsets[:-1][order], lengths) + within]
    inside = step < n_steps
    pair_input = np.full((n_steps, batch_size), -1, dtype=np.int64)
    stream_start = np.zeros((n_steps, batch_size), dtype=bool)
    session_start = np.zeros((n_steps, batch_size), dtype=bool)
    pair_input[step[inside], slots[inside]] = pair_event[inside]
    stream_start[step[inside], slots[inside]] = (within == 0)[inside]
    session_start[step[inside], slots[inside]] = (session_first[pair_event] | (within == 0))[inside]
    dropped = total - int(inside.sum())
    if dropped:
        logger.debug("epoch ends at the first exhausted slot: %d of %d pairs dropped", dropped, total)
    return EpochSchedule(pair_input, stream_start, session_start)


def _session_first(log: SessionLog) -> np.ndarray:
    """bool [E]: the event opens its session."""
    first = np.zeros(log.n_events, dtype=bool)
    first[log.session_offsets[:-1]] = True
    return first


@dataclass(frozen=True)
class SessionParallelBatcher:
    """GRU4Rec's session-parallel mini-batches: every session is a stream; sessions are taken in
    order of their start time (``order="time"``) or shuffled anew each epoch (``"shuffle"``)."""

    batch_size: int
    order: str = "time"  # "time" or "shuffle" (validated by TrainConfig)
    batch_end: BatchEnd = "shrink"

    def schedule(self, log: SessionLog, rng: np.random.Generator) -> EpochSchedule:
        """The epoch's schedule; ``rng`` is used only when shuffling."""
        pairs = _pair_inputs(log, across_sessions=False)
        offsets = np.searchsorted(pairs, log.session_offsets).astype(np.int64)
        if self.order == "shuffle":
            order = rng.permutation(log.n_sessions)
        else:
            order = np.argsort(log.time[log.session_offsets[:-1]], kind="stable")
        return _layout(pairs, offsets, order, self.batch_size, self.batch_end, _session_first(log))


@dataclass(frozen=True)
class UserParallelBatcher:
    """HRNN's user-parallel mini-batches: every user is a stream walking through their sessions in
    log (time) order. ``concatenate_sessions`` makes one sequence of them (RNN Concat: the last event
    of a session is the input for the first of the next). Users are taken in a new random order each
    epoch (``order="random"``, the paper) or by user code (``"fixed"``)."""

    batch_size: int
    order: str = "random"  # "random" or "fixed" (validated by TrainConfig)
    batch_end: BatchEnd = "shrink"
    concatenate_sessions: bool = False

    def schedule(self, log: SessionLog, rng: np.random.Generator) -> EpochSchedule:
        """The epoch's schedule; ``rng`` is used only for the random user order."""
        pairs = _pair_inputs(log, across_sessions=self.concatenate_sessions)
        user_event_offsets = log.session_offsets[log.user_session_offsets]
        offsets = np.searchsorted(pairs, user_event_offsets).astype(np.int64)
        order = rng.permutation(log.n_users) if self.order == "random" else np.arange(log.n_users)
        session_first = _session_first(log)
        if self.concatenate_sessions:
            session_first[:] = False
        return _layout(pairs, offsets, order, self.batch_size, self.batch_end, session_first)
