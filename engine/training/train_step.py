"""One training step: forward, sampled output layer, loss, hand-written backward, update.

The output layer scores only the batch's target items (column b is slot b's target), plus
``n_extra_negatives`` items shared by all rows and drawn with probability ~ popularity^alpha
(popularity = the item's number of events in the training log). A loss that corrects for this
sampling (log-Q) computes its correction from the step's columns (its registry entry's ``log_q``).
Columns of idle slots are not negatives. Every tensor has a static shape per step (idle slots use
the padding item), so the step can be captured in a CUDA graph.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from engine.data.session_log import SessionLog
from engine.models.losses import LOSSES, LossOutput, SampledColumns, ranking_loss
from engine.models.network import RecurrentNetwork
from engine.models.step import DropoutMasks, StepInputs, backward_step, forward_step, user_rows
from engine.training.batching import EpochSchedule
from engine.training.config import TrainConfig
from engine.training.optimizer import RowSparseOptimizer


class EpochTensors(NamedTuple):
    """An :class:`EpochSchedule` as device tensors, indexed [step]."""

    items: Tensor  # int64 [T, B] input items (padding for idle slots)
    targets: Tensor  # int64 [T, B] target items (padding for idle slots)
    keep: Tensor  # float [T, B, 1] the slot continues its session
    update: Tensor  # float [T, B, 1] a new session of the same user starts (HRNN)
    active: Tensor  # bool [T, B]


def epoch_tensors(schedule: EpochSchedule, log: SessionLog, pad: int, device: torch.device,
                  start: int = 0, stop: int | None = None) -> EpochTensors:
    """Items and masks on ``device`` of steps ``start:stop`` of the schedule (all by default)."""
    idx = schedule.pair_input[start:stop]
    active = idx >= 0
    safe = np.where(active, idx, 0)
    items = np.where(active, log.item[safe], pad)
    targets = np.where(active, log.item[np.where(active, safe + 1, 0)], pad)
    session_start = schedule.session_start[start:stop]
    keep = ~session_start
    update = session_start & ~schedule.stream_start[start:stop]

    def put(a: np.ndarray, dtype: torch.dtype) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)

    return EpochTensors(put(items, torch.int64), put(targets, torch.int64),
                        put(keep[..., None], torch.float32), put(update[..., None], torch.float32),
                        put(active, torch.bool))


class StepResult(NamedTuple):
    loss: Tensor  # scalar, mean over the counted rows
    rows: Tensor  # scalar float, rows counted


class TrainStep:
    """Holds the carried states, gradient buffers and optimizer of one training run."""

    def __init__(self, config: TrainConfig, network: RecurrentNetwork, popularity: np.ndarray,
                 generator: torch.Generator, compact_user_rows: bool | None = None) -> None:
        """``compact_user_rows``: run HRNN's user level only on the slots that start a session
        (default: on a CPU; a GPU keeps static shapes for CUDA graphs)."""
        self.config = config
        self.net = network
        self.spec = network.spec
        self.generator = generator
        device = network.dense.device
        self.device = device
        self.compact = device.type == "cpu" if compact_user_rows is None else compact_user_rows
        self.no_rows = torch.zeros(0, dtype=torch.int64, device=device)
        batch, extra = config.batch_size, config.n_extra_negatives
        self.dense = network.dense_views()
        self.grad_flat = torch.zeros_like(network.dense.data)
        self.grad = network.dense_views(self.grad_flat)
        # the item tables: input rows (unless tied to the output vectors) and output rows
        self.tied = network.spec.constrained_embedding
        tables = [network.item_out.data] if self.tied else [network.item_in.data, network.item_out.data]
        self.optimizer = RowSparseOptimizer(config.optimizer, config.learning_rate, config.momentum,
                                            network.dense.data, tables)
        self.eye = torch.eye(batch, batch + extra, dtype=torch.bool, device=device)  # [B, C]
        self.extra_valid = torch.ones(extra, dtype=torch.bool, device=device)
        pop = torch.as_tensor(popularity, dtype=torch.float64)
        weights = pop.pow(config.sample_alpha) * (pop > 0)
        self.sample_cdf = (weights.cumsum(0) / weights.sum()).to(device=device, dtype=torch.float32)
        pad = torch.ones(1, dtype=torch.float64)  # any positive value: idle columns are masked
        self.target_prob = torch.cat([pop / pop.sum(), pad]).to(device=device, dtype=torch.float32)  # [n + 1]
        self.extra_prob = torch.cat([weights / weights.sum(), pad]).to(device=device, dtype=torch.float32)
        log_count = torch.cat([pop.clamp_min(1.0).log(), torch.zeros(1, dtype=torch.float64)])
        self.log_count = log_count.to(device=device, dtype=torch.float32)  # [n + 1]
        self.state = network.new_state(batch)

    def reset_state(self) -> None:
        """Zero the carried states (start of an epoch)."""
        for t in self.state:
            t.zero_()

    def _dropout_mask(self, p: float, rows: int, units: int) -> Tensor | None:
        if p == 0.0:
            return None
        mask = torch.empty(rows, units, device=self.device)
        return mask.bernoulli_(1.0 - p, generator=self.generator).div_(1.0 - p)

    def _columns(self, targets: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        """Column items [C] and their validity [C] (in-batch targets of active slots, extras)."""
        extra = self.config.n_extra_negatives
        if extra == 0:
            return targets, active
        u = torch.rand(extra, generator=self.generator, device=self.device)
        sampled = torch.searchsorted(self.sample_cdf, u).clamp_max_(self.spec.n_items - 1)
        return torch.cat([targets, sampled]), torch.cat([active, self.extra_valid])

    def __call__(self, items: Tensor, targets: Tensor, keep: Tensor, update: Tensor,
                 active: Tensor) -> StepResult:
        """Train on one step's pairs ([B] items/targets/active, [B, 1] keep/update)."""
        cfg, spec = self.config, self.spec
        rows = user_rows(update, self.compact) if spec.hierarchical else self.no_rows  # [U]
        n_rows = len(rows)
        drop = DropoutMasks(self._dropout_mask(cfg.dropout_session, len(items), spec.session_units),
                            self._dropout_mask(cfg.dropout_user, n_rows, spec.user_units),
                            self._dropout_mask(cfg.dropout_init, n_rows, spec.session_units),
                            self._dropout_mask(cfg.dropout_embedding, len(items), spec.input_size))
        s, c = self.state
        s_new, c_new, cache = forward_step(spec, self.dense, self.net.input_rows(),
                                           StepInputs(items, keep, update, rows), s, c, drop)
        cols, col_valid = self._columns(targets, active)
        w_cols = self.net.item_out.data.index_select(0, cols)  # [C, H + 1], last column: bias
        s_aug = torch.cat([s_new, torch.ones_like(s_new[:, :1])], dim=1)  # [B, H + 1]
        logits = s_aug @ w_cols.T  # [B, C]
        activation = cfg.activation
        if activation == "tanh":
            y = logits.tanh()
        elif activation == "elu":
            y = torch.nn.functional.elu(logits, cfg.elu_alpha)
        else:
            y = logits
        correction = LOSSES[cfg.loss].log_q
        logq = None if correction is None else correction(SampledColumns(
            cols, active, self.target_prob, self.extra_prob, self.log_count, cfg.n_extra_negatives, cfg.sample_alpha,
            cfg.logq))  # [C] or None
        out = ranking_loss(cfg.loss, y, active, col_valid, self.eye, logq, cfg.bpr_max_reg)
        if cfg.loss_normalization == "batch":  # sum over the rows / the configured batch size
            share = out.rows / cfg.batch_size
            out = LossOutput(out.loss * share, out.dy * share, out.rows)
        if activation == "tanh":
            dlogits = out.dy * (1.0 - y * y)  # [B, C]
        elif activation == "elu":
            dlogits = out.dy * torch.where(logits > 0, 1.0, y + cfg.elu_alpha)  # elu' = elu + alpha below 0
        else:
            dlogits = out.dy
        g_out = dlogits.T @ s_aug  # [C, H + 1]
        ds = dlogits @ w_cols[:, :-1]  # [B, H]
        d_rows = backward_step(spec, self.dense, self.grad, cache, ds)
        if self.tied:  # the input rows are the output vectors: one table, both gradients
            d_in = torch.cat([d_rows, torch.zeros_like(d_rows[:, :1])], dim=1)  # [B, H + 1], no bias gradient
            self.optimizer.step(self.grad_flat, [torch.cat([items, cols])], [torch.cat([d_in, g_out])])
        else:
            self.optimizer.step(self.grad_flat, [items, cols], [d_rows, g_out])
        s.copy_(s_new)  # the carried states stay in the same buffers (as a CUDA graph needs)
        c.copy_(c_new)
        return StepResult(out.loss, out.rows)
