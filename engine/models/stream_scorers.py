"""The evaluator's :class:`~engine.evaluation.stream_scorer.StreamScorer` for trained networks.

Eval mode (no dropout), the same step as in training (:func:`engine.models.step.forward_step`):
- RNN (``history_feed="none"``): the state is reset at every session start;
- RNN Concat (``"all_events"``): the state is reset only when the slot gets a new user;
- HRNN (``"session_inputs"``): the slot's first event after :meth:`assign` is a user start (both
  states zero); every later session start first steps the user GRU with the session state after
  the previous session's last input, then initializes the session state from it, as in training.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from engine.models.network import RecurrentNetwork
from engine.models.spec import NETWORK_KINDS
from engine.models.step import StepInputs, user_rows


class RecurrentStreamScorer:
    """Batched next-item scores of a trained network for the evaluator's B slots."""

    def __init__(self, network: RecurrentNetwork, model: str) -> None:
        if model not in NETWORK_KINDS:
            raise ValueError(f"unknown network {model!r}; choose one of {', '.join(NETWORK_KINDS)}")
        self.network = network.eval()
        self.model = model
        self.history_feed = NETWORK_KINDS[model].history_feed
        self.n_items = network.spec.n_items
        self.device = network.dense.device
        self._candidates: np.ndarray | None = None  # the candidate array whose columns are prepared
        self._candidate_columns: tuple[Tensor, Tensor] = (torch.empty(0), torch.empty(0))
        self._candidate_buffer = torch.empty(0)
        self.reset(0)

    def reset(self, n_slots: int) -> None:
        self.s, self.c = self.network.new_state(n_slots)  # [B, Hs], [B, Hu]
        self.fresh = torch.ones(n_slots, dtype=torch.bool, device=self.device)  # no event yet

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        idx = torch.as_tensor(np.asarray(slots, dtype=np.int64), device=self.device)
        if not self.network.spec.compat_2017:  # the 2017 code kept the previous user's state
            self.s[idx] = 0.0
        self.c[idx] = 0.0
        self.fresh[idx] = True

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        rows = torch.as_tensor(np.flatnonzero(np.asarray(active, dtype=bool)), device=self.device)
        if len(rows) == 0:
            return
        item = torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)[rows]
        start = torch.as_tensor(np.asarray(session_start, dtype=bool), device=self.device)[rows]
        fresh = self.fresh[rows]
        if NETWORK_KINDS[self.model].concatenates:
            keep = ~fresh
        else:
            keep = ~(start | fresh)
        update = ~keep & ~fresh if self.network.spec.hierarchical else torch.zeros_like(keep)
        update_f = update.float().unsqueeze(1)  # [b, 1]
        inputs = StepInputs(item, keep.float().unsqueeze(1), update_f, user_rows(update_f, compact=True))
        s, c = self.network.advance(inputs, self.s[rows], self.c[rows])
        self.s[rows] = s
        self.c[rows] = c
        self.fresh[rows] = False

    def scores(self, slots: np.ndarray) -> Tensor:
        idx = torch.as_tensor(np.asarray(slots, dtype=np.int64), device=self.device)
        return self.network.score_items(self.s[idx])

    def scores_of(self, slots: np.ndarray, items: np.ndarray) -> Tensor:
        """float32 [b, m]: scores of items ``items`` [m] only (ranking among candidates)."""
        idx = torch.as_tensor(np.asarray(slots, dtype=np.int64), device=self.device)
        columns = torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)
        return self.network.score_items_of(self.s[idx], columns)

    @torch.no_grad()
    def candidate_scores(self, slots: np.ndarray, candidates: np.ndarray, targets: np.ndarray) -> tuple[Tensor, Tensor]:
        """float32 [b, N] scores of the ``candidates`` (their output vectors gathered once per
        candidate array, contiguous, into a reused product buffer) and float32 [b] of each slot's
        target: the ranks of ``scores_of``'s columns, bit for bit (tests), at a third of the cost."""
        if self._candidates is not candidates:
            self._candidate_columns = self.network.output_columns(
                torch.as_tensor(np.asarray(candidates, dtype=np.int64), device=self.device))
            self._candidates = candidates
            self._candidate_buffer = torch.empty(0, len(candidates), device=self.device)
        weights_t, bias = self._candidate_columns  # [H, N], [N]
        idx = torch.as_tensor(np.asarray(slots, dtype=np.int64), device=self.device)
        s = self.s[idx]  # [b, H]
        if self._candidate_buffer.shape[0] < len(slots):
            self._candidate_buffer = torch.empty(len(slots), weights_t.shape[1], device=self.device)
        among = torch.addmm(bias, s, weights_t, out=self._candidate_buffer[: len(slots)])  # [b, N]
        target_rows = self.network.item_out.index_select(
            0, torch.as_tensor(np.asarray(targets, dtype=np.int64), device=self.device))  # [b, H + 1]
        # the targets' scores by the same kind of product as the candidates' (not a row-wise dot
        # product, whose summation order differs in the last bit)
        return among, torch.addmm(target_rows[:, -1], s, target_rows[:, :-1].T).diagonal()

