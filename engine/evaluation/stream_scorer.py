"""The one contract every recommender (neural models and baselines) offers to the evaluator.

The evaluator walks B parallel *slots*; each slot holds one user's event stream: the user's
training history (as ``history_feed`` says) followed by the test session. At every step each
active slot consumes its current event; the evaluator then asks for scores of the next item for
the slots whose next event is a target (every test event but the session's first). The last event
of a test session is never consumed (it is only a target). Scores are raw (pre-activation) over
all ``n_items`` items.

``history_feed`` values:
- ``"none"``: session-only models (Pop, Item-KNN, RNN, Personal Pop, whose counts come from
  fitting): the stream is the test session alone.
- ``"session_inputs"``: HRNN: every training session in time order, each without its last event,
  exactly as in training (the last event of a session is only a target there).
- ``"all_events"``: RNN Concat: every training event, as one concatenated sequence.

What the evaluator (:mod:`engine.evaluation.evaluator`) guarantees a scorer:
- ``reset(B)`` once, with B = min(batch size, users to evaluate); then ``assign`` whenever a slot
  gets its next user (users in ascending code order), before that slot's first ``consume``.
- ``session_start`` is True at the first event of every fed training session ("session_inputs"),
  at the user's first training event only ("all_events": a concatenating scorer should treat the
  stream as one sequence and may ignore the flag), and at the first event of the test session
  (in every mode). Entries of inactive slots are 0 / False.
- ``scores(slots)`` is called only for slots that consumed an event in the same step, right after
  that ``consume``; the evaluator reads the returned tensor at once and keeps no reference, so it
  may be a read-only view (e.g. an expanded row). It may live on any device: ranking runs there.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class StreamScorer(Protocol):
    """Stateful, batched next-item scorer over B slots (B fixed for one evaluation)."""

    #: Which training events the evaluator feeds before the test session (see the module docstring).
    history_feed: str
    #: Number of items scored (the dataset's training items).
    n_items: int

    def reset(self, n_slots: int) -> None:
        """Start an evaluation with ``n_slots`` slots, all empty."""

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        """Slots ``slots`` [b] now hold users ``users`` [b] (dense codes); their state is cleared
        as at a user start."""

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        """Every slot with ``active[s]`` consumes ``items[s]``; ``session_start[s]`` says the item
        is the first of a new session of the slot's user. Arrays are [B]; inactive entries are
        ignored."""

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]: raw scores of every item as the next item of slots ``slots`` [b],
        given everything they consumed so far. Higher is better; not passed through tanh."""

    # Optional: ``observe_times(times, active)``, ``times`` float64 [B] the unix seconds of the events
    # that the active slots consume next; the evaluator (and inspection's replay) calls it right
    # before each ``consume`` when the scorer has it. For models whose scores depend on the time of
    # the request (the reminders' item recency of the session-aware baselines).
    #
    # Optional: ``scores_of(slots, items) -> float32 [b, m]``, the scores of the items ``items``
    # (int64 numpy array [m], repeats allowed) only. The evaluator uses it when it ranks among
    # the N most popular items (a scorer without it gets ``scores(slots)[:, items]``); for a
    # network it costs N instead of n_items dot products per prediction.
    #
    # Optional: ``candidate_scores(slots, candidates, targets) -> (float32 [b, N], float32 [b])``,
    # the scores of the N ``candidates`` (int64 numpy array, ascending; the same array object for
    # a whole evaluation, so a scorer may prepare its columns once) and of each slot's target
    # ``targets`` [b]. The evaluator prefers it to ``scores_of`` when ranking among candidates; the
    # tensors may be reused buffers (read at once).
