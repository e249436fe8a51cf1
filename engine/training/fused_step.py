"""The fused CPU training step: :class:`TrainStep`'s arithmetic in one compiled kernel per block of
steps (``fused_kernels.train_block``, numba), sharing the tensor step's buffers.

:class:`FusedTrainStep` is a :class:`TrainStep` whose parameters, gradient buffer, optimizer state
and carried states are the very tensors the tensor step owns, read and written by the kernel through
numpy views (no copy). Calling it trains one step; :class:`FusedSteps` (what
:func:`engine.training.step_runner.make_step_runner` picks on a CPU) trains a block of steps per
call. Either way the results equal the tensor step's up to float32 rounding
(tests/test_training_fused_step.py), and a block of steps equals the same steps one by one exactly.

The random draws are the tensor step's own: per step, from the run's generator and in its order,
the dropout masks (session [B, Hs], user [U, Hu], init [U, Hs], embedding [B, E], each only when its
dropout is on, U the slots starting a session of the same user) and the uniform draws of the extra
negatives. So a seed gives the same draws, and nearly the same losses, with either step.

:func:`make_train_step` picks the step: the fused one on a CPU, unless ``$HRNN_FUSED_STEP`` is 0,
numba is missing or cannot compile the kernel, or the configuration has something the kernel does
not compute (a loss it does not know, a GPU, static user rows); then the tensor step, with a one-line
notice in the log saying why.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from engine.models.losses import LOSSES
from engine.models.network import RecurrentNetwork
from engine.training.config import TrainConfig
from engine.training.train_step import EpochTensors, StepResult, TrainStep

logger = logging.getLogger(__name__)

#: Environment variable: 0 trains with the tensor step on a CPU too (default 1: the fused step).
FUSED_STEP_VARIABLE = "HRNN_FUSED_STEP"
#: Steps per call of the kernel when the step runner trains blocks (bounds the masks' memory).
FUSED_BLOCK_STEPS = 64
#: The training settings the fused step follows (the kernel's, or the loop's and batchers' around
#: it). A setting added to :class:`TrainConfig` later trains with the tensor step, with a notice,
#: until the kernel computes it and it is listed here.
KNOWN_SETTINGS = frozenset({
    "model", "session_units", "user_units", "embedding_size", "batch_size", "dropout_session", "dropout_user",
    "dropout_init", "learning_rate", "momentum", "optimizer", "loss", "final_activation", "elu_alpha",
    "constrained_embedding", "dropout_embedding", "reset_gate", "loss_normalization", "logq", "bpr_max_reg",
    "n_extra_negatives", "sample_alpha", "epochs", "device", "all_mode", "user_order", "session_order", "batch_end",
    "compat_2017", "cuda_graph_steps", "seed",
})


class _BlasThreads:
    """The threads of the BLAS the kernel calls (SciPy's OpenBLAS), set to torch's for each call
    and restored after: training runs on :func:`engine.training.loop.cpu_training_threads` threads.
    Without SciPy's OpenBLAS (another BLAS build), its own setting stands."""

    def __init__(self) -> None:
        self.get: Any = None
        self.set: Any = None
        try:
            import ctypes
            import glob

            import scipy

            root = os.path.dirname(scipy.__file__)
            for path in sorted(glob.glob(os.path.join(root, "..", "scipy.libs", "*openblas*"))
                               + glob.glob(os.path.join(root, ".dylibs", "*openblas*"))):
                lib = ctypes.CDLL(path)
                if hasattr(lib, "scipy_openblas_set_num_threads"):
                    self.get, self.set = lib.scipy_openblas_get_num_threads, lib.scipy_openblas_set_num_threads
                    break
        except Exception:  # noqa: BLE001 - no control over the threads: the BLAS's default stands
            self.get = self.set = None

    def __call__(self, threads: int) -> int | None:
        """Set ``threads``; returns the previous number (None: not controlled, or unchanged)."""
        if self.set is None:
            return None
        previous = int(self.get())
        if previous == threads:
            return None
        self.set(threads)
        return previous


_blas_threads: _BlasThreads | None = None


def blas_threads(threads: int) -> int | None:
    """Set the kernel's BLAS threads (see :class:`_BlasThreads`); the previous number or None."""
    global _blas_threads
    if _blas_threads is None:
        _blas_threads = _BlasThreads()
    return _blas_threads(threads)


def _kernels() -> Any:
    """The kernel module (imports numba; compiles nothing yet)."""
    from engine.training import fused_kernels

    return fused_kernels


def unsupported_reason(config: TrainConfig, device: torch.device, compact_user_rows: bool | None = None) -> str | None:
    """Why the fused step cannot train ``config`` on ``device`` (None: it can)."""
    if os.environ.get(FUSED_STEP_VARIABLE, "1").strip() == "0":
        return f"${FUSED_STEP_VARIABLE} is 0"
    if device.type != "cpu":
        return f"the fused step runs on a CPU, not {device.type}"
    if compact_user_rows is False:
        return "the fused step runs the user level on the session starts only (compact user rows)"
    unknown = sorted({f.name for f in dataclasses.fields(config)} - KNOWN_SETTINGS)
    if unknown:
        return f"the fused step does not know the setting(s) {', '.join(unknown)}"
    try:
        kernels = _kernels()
    except Exception as exc:  # noqa: BLE001 - numba missing or broken: the tensor step trains
        return f"numba is not available ({type(exc).__name__}: {exc})"
    parameters = sorted(set(config.network_spec(1).dense_shapes) - set(kernels.DENSE_NAMES))
    if parameters:
        return f"the fused step does not compute the parameter(s) {', '.join(parameters)}"
    if config.loss not in kernels.LOSS_CODES:
        return f"the fused step does not compute the loss {config.loss!r}"
    if config.activation not in kernels.ACTIVATION_CODES:
        return f"the fused step does not compute the final activation {config.activation!r}"
    if config.optimizer not in ("adagrad", "adam"):
        return f"the fused step does not apply the optimizer {config.optimizer!r}"
    return None


def make_train_step(config: TrainConfig, network: RecurrentNetwork, popularity: np.ndarray,
                    generator: torch.Generator) -> TrainStep:
    """The fused step where it can train ``config`` (see the module's docstring), else the tensor
    step, saying why in one line of the log."""
    device = network.dense.device
    reason = unsupported_reason(config, device)
    if reason is None:
        try:
            return FusedTrainStep(config, network, popularity, generator)
        except Exception as exc:  # noqa: BLE001 - a kernel that fails to compile: the tensor step trains
            reason = f"the fused kernel failed to compile ({type(exc).__name__}: {exc})"
            logger.warning("training step: the tensor step (%s)", reason)
            return TrainStep(config, network, popularity, generator)
    logger.info("training step: the tensor step (%s)", reason)
    return TrainStep(config, network, popularity, generator)


def _np(t: Tensor) -> np.ndarray:
    """A numpy view sharing ``t``'s memory (CPU tensors)."""
    return t.detach().numpy()


def _flat(t: Tensor | None, dims: int) -> np.ndarray:
    """Optimizer state as numpy (an empty array of ``dims`` dimensions where there is none)."""
    return np.zeros((0,) * dims, np.float32) if t is None else _np(t)


class FusedTrainStep(TrainStep):
    """:class:`TrainStep` computed by the fused kernel (CPU only; see the module's docstring)."""

    def __init__(self, config: TrainConfig, network: RecurrentNetwork, popularity: np.ndarray,
                 generator: torch.Generator, block: int | None = None) -> None:
        super().__init__(config, network, popularity, generator, compact_user_rows=True)
        reason = unsupported_reason(config, self.device, True)
        if reason is not None:
            raise ValueError(reason)
        k = _kernels()
        self.kernels = k
        spec = self.spec
        block = FUSED_BLOCK_STEPS if block is None else block
        self.block = block
        batch, extra = config.batch_size, config.n_extra_negatives
        hs, hu = spec.session_units, spec.user_units
        activation = config.activation
        loss_entry = LOSSES[config.loss]
        if loss_entry.log_q is None or (config.loss == "cross-entropy" and not config.logq):
            logq_mode = k.LOGQ_NONE
        elif config.loss == "cross-entropy":
            logq_mode = k.LOGQ_COUNTS
        else:
            logq_mode = k.LOGQ_EXPECTED
        icfg = np.zeros(k.N_ICFG, np.int64)
        icfg[k.HIER] = spec.hierarchical
        icfg[k.FEED] = k.FEED_CODES[spec.user_feed]
        icfg[k.COMPAT] = spec.compat_2017
        icfg[k.TIED] = spec.constrained_embedding
        icfg[k.RESET_AFTER] = spec.reset_after
        icfg[k.INPUT_SIZE] = spec.input_size
        icfg[k.LOSS] = k.LOSS_CODES[config.loss]
        icfg[k.ACT] = k.ACTIVATION_CODES[activation]
        icfg[k.OPT] = config.optimizer == "adam"
        icfg[k.MOMENTUM_ON] = config.optimizer == "adagrad" and config.momentum > 0
        icfg[k.N_EXTRA] = extra
        icfg[k.NORM_BATCH] = config.loss_normalization == "batch"
        icfg[k.BATCH_SIZE] = batch
        icfg[k.DROP_S] = config.dropout_session > 0
        icfg[k.DROP_U] = config.dropout_user > 0
        icfg[k.DROP_I] = config.dropout_init > 0
        icfg[k.DROP_E] = config.dropout_embedding > 0
        icfg[k.N_ITEMS] = spec.n_items
        icfg[k.LOGQ_MODE] = logq_mode
        fcfg = np.zeros(k.N_FCFG, np.float64)
        fcfg[k.LR], fcfg[k.MOMENTUM] = config.learning_rate, config.momentum
        fcfg[k.ELU_ALPHA], fcfg[k.BPR_MAX_REG] = config.elu_alpha, config.bpr_max_reg
        fcfg[k.LOGQ_WEIGHT], fcfg[k.SAMPLE_ALPHA] = config.logq, config.sample_alpha
        # the masks' scale 1 / (1 - p), in float32 as the tensor step divides its 0/1 masks
        for position, p in ((k.SCALE_S, config.dropout_session), (k.SCALE_U, config.dropout_user),
                            (k.SCALE_I, config.dropout_init), (k.SCALE_E, config.dropout_embedding)):
            fcfg[position] = np.float32(1.0) / np.float32(1.0 - p)
        self.icfg, self.fcfg = icfg, fcfg
        self.layout = self._layout()
        # random draws of a block, [step, ...], drawn per step as the tensor step draws them
        def masks(p: float, units: int) -> Tensor:  # no memory for a dropout that is off
            return torch.zeros(block, batch, units if p > 0 else 0)

        self.mask_s = masks(config.dropout_session, hs)
        self.mask_u = masks(config.dropout_user, hu)
        self.mask_i = masks(config.dropout_init, hs)
        self.mask_e = masks(config.dropout_embedding, spec.input_size)
        self.extra_u = torch.zeros(block, extra)
        self.record = torch.zeros(1, 2)
        opt = self.optimizer
        tables = 1 if self.tied else 2
        in_first = _np(opt.first[1]) if not self.tied else np.zeros((0, 0), np.float32)
        in_second = _flat(opt.second[1], 2) if not self.tied else np.zeros((0, 0), np.float32)
        out_first, out_second = _np(opt.first[tables]), _flat(opt.second[tables], 2)
        step_count = _np(opt.step_count).reshape(1)
        if not np.shares_memory(step_count, _np(opt.step_count)):
            raise ValueError("the optimizer's step count cannot be shared with the kernel")
        n_rows = spec.n_items + 1
        # everything but the block's inputs, draws and record, in the kernel's argument order
        self.state_args = (
            _np(network.item_in.data), _np(network.item_out.data), _np(network.dense.data), _np(self.grad_flat),
            _np(self.state[0]), _np(self.state[1]), _np(opt.first[0]), _flat(opt.second[0], 1), in_first,
            in_second, out_first, out_second, step_count, _np(self.sample_cdf), _np(self.target_prob),
            _np(self.extra_prob), _np(self.log_count), np.zeros(0 if self.tied else n_rows, np.int64),
            np.zeros(n_rows, np.int64))
        # compile (or load the cached kernel) now, on a block of no steps: a failure shows here
        logger.info("preparing the fused training step (compiled once per machine: about a minute the first time)")
        started = time.perf_counter()
        self._launch(np.zeros((0, batch), np.int64), np.zeros((0, batch), np.int64), np.zeros((0, batch), np.float32),
                     np.zeros((0, batch), np.float32), np.zeros((0, batch), np.bool_), 0, np.zeros((0, 2), np.float32))
        seconds = time.perf_counter() - started
        if seconds > 2.0:
            logger.info("compiled the fused training step in %.0f s (once per machine: numba caches it)", seconds)

    def _layout(self) -> np.ndarray:
        """[16, 3] int64: offset, rows, columns of each of the kernel's dense parameters in the flat
        vector (a bias is one row; an absent parameter has no rows)."""
        k = self.kernels
        layout = np.zeros((len(k.DENSE_NAMES), 3), np.int64)
        offset = 0
        positions = {}
        for name, shape in self.spec.dense_shapes.items():
            size = int(np.prod(shape))
            positions[name] = (offset, *(shape if len(shape) == 2 else (1, shape[0])))
            offset += size
        unknown = set(positions) - set(k.DENSE_NAMES)
        if unknown:
            raise ValueError(f"the fused kernel does not know the parameters {sorted(unknown)}")
        for i, name in enumerate(k.DENSE_NAMES):
            if name in positions:
                layout[i] = positions[name]
        return layout

    def _draw(self, t: int, n_user_rows: int) -> None:
        """Step ``t``'s random draws into the block buffers, in the tensor step's order."""
        cfg, g = self.config, self.generator
        for p, mask in ((cfg.dropout_session, self.mask_s[t]), (cfg.dropout_user, self.mask_u[t, :n_user_rows]),
                        (cfg.dropout_init, self.mask_i[t, :n_user_rows]), (cfg.dropout_embedding, self.mask_e[t])):
            if p != 0.0:
                mask.bernoulli_(1.0 - p, generator=g)  # 0/1; the kernel scales it
        if cfg.n_extra_negatives:
            self.extra_u[t].uniform_(generator=g)

    def _launch(self, items: np.ndarray, targets: np.ndarray, keep: np.ndarray, update: np.ndarray,
                active: np.ndarray, first: int, record: np.ndarray) -> None:
        """Draw and train the steps of the block ([T, B] inputs) into ``record`` [T, 2]; the draws
        go to the buffers' rows ``first ..``."""
        steps = len(items)
        cfg = self.config
        if cfg.dropout_session or cfg.dropout_user or cfg.dropout_init or cfg.dropout_embedding \
                or cfg.n_extra_negatives:
            hierarchical = self.spec.hierarchical
            for t in range(steps):
                self._draw(first + t, int(np.count_nonzero(update[t])) if hierarchical else 0)
        end = first + steps
        previous = blas_threads(torch.get_num_threads())
        try:
            self.kernels.train_block(
                self.icfg, self.fcfg, self.layout, items, targets, keep, update, active,
                _np(self.mask_s[first:end]), _np(self.mask_u[first:end]), _np(self.mask_i[first:end]),
                _np(self.mask_e[first:end]), _np(self.extra_u[first:end]), *self.state_args, record)
        finally:
            if previous is not None:
                blas_threads(previous)

    def run_block(self, tensors: EpochTensors, k: int, out: Tensor) -> None:
        """Train steps ``k .. k + len(out) - 1`` of ``tensors``; their losses and rows to ``out``."""
        steps = len(out)
        if steps > self.block:
            raise ValueError(f"a block of {steps} steps exceeds the buffers' {self.block}")
        end = k + steps
        update = _np(tensors.update[k:end]).reshape(steps, -1)
        self._launch(_np(tensors.items[k:end]), _np(tensors.targets[k:end]),
                     _np(tensors.keep[k:end]).reshape(steps, -1), update, _np(tensors.active[k:end]), 0,
                     _np(out))

    def __call__(self, items: Tensor, targets: Tensor, keep: Tensor, update: Tensor,
                 active: Tensor) -> StepResult:
        """One step, as :meth:`TrainStep.__call__`."""
        def row(t: Tensor) -> np.ndarray:
            return np.ascontiguousarray(_np(t).reshape(1, -1))

        self._launch(row(items), row(targets), row(keep), row(update), row(active), 0, _np(self.record))
        return StepResult(self.record[0, 0].clone(), self.record[0, 1].clone())


class FusedSteps:
    """The step runner of a :class:`FusedTrainStep`: ``block`` steps per call of the kernel."""

    def __init__(self, step: FusedTrainStep, block: int | None = None) -> None:
        self.step = step
        self.block = step.block if block is None else block
        if not 1 <= self.block <= step.block:
            raise ValueError(f"a block of the fused step has 1 to {step.block} steps, not {self.block}")

    def run(self, tensors: EpochTensors, k: int, out: Tensor) -> None:
        """Run steps ``k .. k + block - 1`` of ``tensors``; write losses and rows to ``out`` [block, 2]."""
        self.step.run_block(tensors, k, out)
