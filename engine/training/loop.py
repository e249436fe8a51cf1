"""``train``: fit RNN, RNN Concat, HRNN Init or HRNN All on a training log."""
from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.session_log import SessionLog
from engine.errors import ConfigError, TrainingDiverged
from engine.models.network import RecurrentNetwork
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.training.batching import SessionParallelBatcher, UserParallelBatcher
from engine.training.config import TrainConfig
from engine.training.fused_step import make_train_step
from engine.training.step_runner import EagerSteps, make_step_runner
from engine.training.train_step import epoch_tensors

logger = logging.getLogger(__name__)

#: Steps between two checks of the loss for NaN/inf (each check waits for the device).
FINITE_CHECK_STEPS = 32
#: Seconds between two progress reports.
PROGRESS_SECONDS = 0.25
#: Steps whose inputs are moved to the device at once (bounds memory on very large logs).
CHUNK_STEPS = 4096
#: Largest score magnitude a trained model may reach (float32's range, with room to rank in).
SCORE_LIMIT = float(torch.finfo(torch.float32).max) / 16
#: Environment variable that sets the torch threads of CPU training (default 1).
TRAINING_THREADS_VARIABLE = "HRNN_TRAINING_THREADS"

EpochCallback = Callable[[int, float, float], None]
#: after_epoch(epoch, network): the network as trained so far (read it, do not change it).
AfterEpochCallback = Callable[[int, RecurrentNetwork], None]


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A trained network and its loss curve. Epochs are numbered from 1."""

    config: TrainConfig
    network: RecurrentNetwork  # on ``device``
    epoch_losses: tuple[float, ...]  # mean loss per trained (input, target) pair
    epoch_seconds: tuple[float, ...]  # wall-clock seconds per epoch
    pairs_per_epoch: int  # (input, target) pairs trained per epoch (the last epoch's count)
    device: str

    @property
    def pairs_per_second(self) -> float:
        """Training throughput: (input, target) pairs per wall-clock second over all epochs."""
        return self.pairs_per_epoch * len(self.epoch_seconds) / max(sum(self.epoch_seconds), 1e-9)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a :class:`ConfigError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available; use 'auto' or 'cpu'")
    return torch.device(name)


def make_batcher(config: TrainConfig) -> SessionParallelBatcher | UserParallelBatcher:
    if config.model == "rnn":
        return SessionParallelBatcher(config.batch_size, config.session_order, config.batch_end)
    return UserParallelBatcher(config.batch_size, config.user_order, config.batch_end,
                               concatenate_sessions=config.model == "rnn-concat")


def _check_data(config: TrainConfig, data: SessionLog) -> None:
    if config.model == "rnn-concat":
        stream_pairs = np.maximum(np.bincount(data.user, minlength=data.n_users) - 1, 0)
    else:
        pairs = np.bincount(data.session_user, weights=data.session_length - 1, minlength=data.n_users)
        stream_pairs = data.session_length - 1 if config.model == "rnn" else pairs
    if data.n_events == 0 or not np.any(stream_pairs > 0):
        raise ConfigError("the training log has no (input, target) pair to train on: "
                          "every session has a single event")
    if config.batch_end == "stop_at_first_exhausted":
        streams = int(np.count_nonzero(stream_pairs > 0))
        if streams < config.batch_size:
            raise ConfigError(f"batch_end 'stop_at_first_exhausted' needs at least batch_size = "
                              f"{config.batch_size} {'sessions' if config.model == 'rnn' else 'users'}; "
                              f"the log has {streams}: lower the batch size or use 'shrink'")


def _diverged(config: TrainConfig, epoch: int, step: int, value: float) -> TrainingDiverged:
    return TrainingDiverged(
        f"the training loss became {value} in epoch {epoch} (step {step}) of {config.model}: {_remedy(config)}")


def _check_model(config: TrainConfig, network: RecurrentNetwork, epoch: int) -> None:
    """Raise :class:`TrainingDiverged` when the weights are no longer finite, or so large that
    the scores can overflow. A bounded loss (TOP1 and BPR on tanh outputs) stays finite while
    the weights run away, so the loss alone does not show it. Session states lie in [-1, 1] in
    evaluation, so |score of item i| <= sum_h |W_ih| + |b_i|: past float32's range, scores may be
    infinite and ranks meaningless."""
    for name, weights in (("item input", network.item_in), ("item output", network.item_out),
                          ("recurrent", network.dense)):
        if not bool(torch.isfinite(weights).all()):
            raise TrainingDiverged(
                f"the {name} weights became infinite or NaN in epoch {epoch} of {config.model}: "
                f"{_remedy(config)}")
    table = network.item_out.detach()[: network.spec.n_items].double()  # [n_items, H + 1]
    bound = float(table.abs().sum(dim=1).max()) if len(table) else 0.0
    if bound > SCORE_LIMIT:
        raise TrainingDiverged(
            f"the output weights of {config.model} grew so large in epoch {epoch} that its scores can "
            f"overflow (up to {bound:.3g}; float32 ends at {torch.finfo(torch.float32).max:.3g}): {_remedy(config)}")


def _remedy(config: TrainConfig) -> str:
    advice = f"lower the learning rate (now {config.learning_rate:g})"
    if config.momentum:
        advice += f", lower the momentum (now {config.momentum:g})"
    if config.activation != "tanh":
        advice += ", or use a bounded final activation (tanh)"
    return advice


def train(
    config: TrainConfig, data: SessionLog, progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None, on_epoch: EpochCallback | None = None,
    after_epoch: AfterEpochCallback | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``data`` for ``config.epochs`` epochs.

    ``on_epoch(epoch, mean_loss, wall_seconds)`` runs after every epoch, then
    ``after_epoch(epoch, network)`` (e.g. to score the validation split; it may raise to stop
    the training); ``progress`` within
    epochs. Raises :class:`ConfigError`, :class:`engine.errors.Cancelled` (polled every step, or
    every block of steps replayed from a CUDA graph) or :class:`TrainingDiverged`. Same seed and
    device give the same loss curve. On a CPU it trains with :func:`cpu_training_threads` torch
    threads (restored afterwards).
    """
    config.validate()
    _check_data(config, data)
    device = resolve_device(config.device)
    with _torch_threads(cpu_training_threads() if device.type == "cpu" else None):
        return _fit(config, data, device, progress, cancel or CancelToken(), on_epoch, after_epoch)


def cpu_training_threads() -> int:
    """Torch threads for training on a CPU: ``$HRNN_TRAINING_THREADS``, else 1.

    A step is 100-250 small tensor operations. Under OpenMP's passive waiting, which the app and
    the CLI set so that a busy core cannot stall the spinning threads, each extra thread adds a
    wake-up to every operation. Measured (BENCHMARKS.md): 2 threads train the small networks 3-5x
    slower than 1, and the large ones no faster."""
    value = os.environ.get(TRAINING_THREADS_VARIABLE, "1")
    try:
        threads = int(value)
    except ValueError:
        raise ConfigError(f"{TRAINING_THREADS_VARIABLE}={value!r} is not a number of threads") from None
    if threads < 1:
        raise ConfigError(f"{TRAINING_THREADS_VARIABLE}={value!r}: a number of threads is at least 1")
    return threads


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (None: leave the setting alone)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads is not None:
            torch.set_num_threads(previous)


def _fit(config: TrainConfig, data: SessionLog, device: torch.device, progress: ProgressCallback,
         cancel: CancelToken, on_epoch: EpochCallback | None,
         after_epoch: AfterEpochCallback | None = None) -> TrainResult:
    """:func:`train` once the configuration, the data and the device are checked."""
    network = RecurrentNetwork(config.network_spec(data.n_items), seed=config.seed).to(device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    popularity = np.bincount(data.item, minlength=data.n_items).astype(np.float64)
    step = make_train_step(config, network, popularity, generator)  # the fused step on a CPU where it can
    runner, eager = make_step_runner(step, config.cuda_graph_steps), EagerSteps(step)
    batcher = make_batcher(config)
    losses: list[float] = []
    seconds: list[float] = []
    n_pairs = 0
    last_report = 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        schedule = batcher.schedule(data, rng)
        n_steps, n_pairs = schedule.n_steps, schedule.n_pairs
        record = torch.zeros(n_steps, 2, device=device)  # per step: loss, rows counted
        step.reset_state()
        checked = 0
        for chunk_start in range(0, n_steps, CHUNK_STEPS):
            tensors = epoch_tensors(schedule, data, network.spec.pad_item, device, chunk_start,
                                    chunk_start + CHUNK_STEPS)
            chunk_steps, k = len(tensors.items), 0
            while k < chunk_steps:
                cancel.raise_if_cancelled()
                run = runner if runner.block <= chunk_steps - k else eager
                t = chunk_start + k
                run.run(tensors, k, record[t: t + run.block])
                k += run.block
                done = chunk_start + k
                if done - checked >= FINITE_CHECK_STEPS or done == n_steps:
                    finite = torch.isfinite(record[checked: done, 0])
                    if not bool(finite.all()):
                        first = checked + int((~finite).nonzero()[0, 0])
                        raise _diverged(config, epoch, first + 1, float(record[first, 0]))
                    checked = done
                now = time.perf_counter()
                if now - last_report >= PROGRESS_SECONDS:
                    last_report = now
                    progress((epoch - 1 + done / n_steps) / config.epochs,
                             f"{config.model}: epoch {epoch}/{config.epochs}, step {done}/{n_steps}")
        rows = record[:, 1].sum()
        mean_loss = float((record[:, 0] * record[:, 1]).sum() / rows.clamp_min(1.0))
        if not math.isfinite(mean_loss):
            raise _diverged(config, epoch, n_steps, mean_loss)
        _check_model(config, network, epoch)
        wall = time.perf_counter() - started
        losses.append(mean_loss)
        seconds.append(wall)
        logger.info("%s epoch %d: loss %.5f, %.1f s, %.0f pairs/s", config.model, epoch, mean_loss,
                    wall, n_pairs / max(wall, 1e-9))
        if on_epoch is not None:
            on_epoch(epoch, mean_loss, wall)
        if after_epoch is not None:
            after_epoch(epoch, network)
    progress(1.0, f"{config.model}: trained {config.epochs} epochs")
    return TrainResult(config, network, tuple(losses), tuple(seconds), n_pairs, str(device))
