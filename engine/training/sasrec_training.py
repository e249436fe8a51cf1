"""``train_sasrec``: fit SASRec, or its session-only twin, on a training log.

Sequences: SASRec reads each user's training events in time order across sessions (as the
evaluator feeds them, "all_events"); the twin reads each session alone. A sequence of n events has
n - 1 (input, target) pairs; with ``windows="all"`` it is cut, from its end, into windows of at
most L inputs (each with its targets, the next events), so that every pair is trained once per
epoch; with ``"latest"`` only the last window of each sequence is (the paper's sampler). Windows
are shuffled each epoch and batched ``batch_size`` at a time, windows of similar length together
(:func:`batch_order`), left-padded to the widest window of the batch. Adam (betas 0.9, 0.98) on
every weight; the loss is the mean over the batch's targets.

Memory: a batch is built from index arithmetic on the log (B x L numbers); the full cross-entropy
holds scores for a chunk of rows at a time, the sampled losses B x L x K scores: nothing grows with
the log beyond its per-event time-gap buckets.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.data.session_log import SessionLog
from engine.errors import ConfigError, TrainingDiverged
from engine.models.sasrec import SASRecNetwork, gap_buckets
from engine.models.sasrec_losses import SEQUENCE_LOSSES, SequenceLossInputs, gbce_beta, sequence_loss
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.training.loop import cpu_training_threads, resolve_device
from engine.training.sasrec_config import SASRecConfig

logger = logging.getLogger(__name__)

#: Steps between two checks of the loss for NaN/inf (each check waits for the device).
FINITE_CHECK_STEPS = 32
#: Seconds between two progress reports.
PROGRESS_SECONDS = 0.25
#: Batches whose windows are grouped by length (see :func:`batch_order`).
LENGTH_GROUP_BATCHES = 32

EpochCallback = Callable[[int, float, float], None]
#: after_epoch(epoch, network): the network as trained so far (read it, do not change it).
SASRecAfterEpoch = Callable[[int, Any], None]


@dataclass(frozen=True, eq=False)
class SASRecResult:
    """A trained SASRec network and its loss curve. Epochs are numbered from 1."""

    config: SASRecConfig
    network: SASRecNetwork  # on ``device``
    epoch_losses: tuple[float, ...]  # mean loss per trained (input, target) pair
    epoch_seconds: tuple[float, ...]  # wall-clock seconds per epoch
    pairs_per_epoch: int  # (input, target) pairs trained per epoch
    device: str

    @property
    def pairs_per_second(self) -> float:
        """Training throughput: (input, target) pairs per wall-clock second over all epochs."""
        return self.pairs_per_epoch * len(self.epoch_seconds) / max(sum(self.epoch_seconds), 1e-9)


@dataclass(frozen=True, eq=False)
class TrainingWindows:
    """The windows of a log: window w's inputs are events ``input_start[w]:input_end[w]`` (at most
    L of them, the log's indices), its targets the events one later."""

    input_start: np.ndarray  # int64 [W]
    input_end: np.ndarray  # int64 [W]
    gaps: np.ndarray  # int8 [E]: time-gap bucket of every event of the log (models.sasrec.gap_buckets)

    @property
    def n_windows(self) -> int:
        return int(len(self.input_start))

    @property
    def n_pairs(self) -> int:
        return int((self.input_end - self.input_start).sum())


def sequence_bounds(data: SessionLog, sessions_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """(first event [S], end [S]) of each training sequence: each session (the twin), or each
    user's events across sessions (SASRec)."""
    if sessions_only:
        return data.session_offsets[:-1].copy(), data.session_offsets[1:].copy()
    if data.n_events == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, data.user[1:] != data.user[:-1]]).astype(np.int64)
    return starts, np.r_[starts[1:], data.n_events].astype(np.int64)


def training_windows(data: SessionLog, sessions_only: bool, max_length: int, latest_only: bool) -> TrainingWindows:
    """The windows of ``data`` (see the module docstring)."""
    start, end = sequence_bounds(data, sessions_only)
    pairs = np.maximum(end - start - 1, 0)  # [S]
    counts = np.minimum(-(-pairs // max_length), 1) if latest_only else -(-pairs // max_length)  # ceil
    sequence = np.repeat(np.arange(len(start)), counts)  # [W]
    first_window = np.r_[0, np.cumsum(counts)[:-1]]
    k = np.arange(len(sequence)) - np.repeat(first_window, counts)  # window k of its sequence, from the end
    input_end = end[sequence] - 1 - k * max_length
    input_start = np.maximum(start[sequence], input_end - max_length)
    first = np.zeros(data.n_events, dtype=bool)
    first[start] = True
    gap = np.r_[0.0, np.diff(data.time)]
    return TrainingWindows(input_start.astype(np.int64), input_end.astype(np.int64),
                           gap_buckets(gap, ~first).astype(np.int8))


def window_batch(windows: TrainingWindows, chosen: np.ndarray, data: SessionLog,
                 pad_item: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, gaps, targets) int64 [b, T] of the windows ``chosen``, left-padded to the widest
    (T): padding has item and target ``pad_item`` and gap bucket 0."""
    start, end = windows.input_start[chosen], windows.input_end[chosen]  # [b]
    width = int((end - start).max())
    events = end[:, None] - width + np.arange(width)[None, :]  # [b, T] log index of each column
    valid = events >= start[:, None]
    safe = np.where(valid, events, 0)
    inputs = np.where(valid, data.item[safe], pad_item)
    targets = np.where(valid, data.item[safe + 1], pad_item)
    gaps = np.where(valid, windows.gaps[safe], 0).astype(np.int64)
    return inputs, gaps, targets


def batch_order(windows: TrainingWindows, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """The windows in the order an epoch takes them: shuffled, then sorted by length within groups
    of :data:`LENGTH_GROUP_BATCHES` batches, whose batches are shuffled again. A batch is padded to
    its widest window: the twin's windows are whole sessions of 2 to L events, and grouping similar
    lengths saves that padding (SASRec's windows are nearly all L long)."""
    order = rng.permutation(windows.n_windows)
    length = (windows.input_end - windows.input_start)[order]
    group = batch_size * LENGTH_GROUP_BATCHES
    for start in range(0, len(order), group):
        part = slice(start, start + group)
        order[part] = order[part][np.argsort(length[part], kind="stable")]
    batches = [order[start: start + batch_size] for start in range(0, len(order), batch_size)]
    return np.concatenate([batches[i] for i in rng.permutation(len(batches))]) if batches else order


class NegativeSampler:
    """Draws the negatives of a loss on the device: shared ones (uniform or by training count,
    with the log of their expected counts K q_j) or one uniform non-target item per row."""

    def __init__(self, config: SASRecConfig, popularity: np.ndarray, device: torch.device,
                 generator: torch.Generator) -> None:
        self.n_items = len(popularity)
        self.generator = generator
        self.device = device
        uniform = config.negative_sampling == "uniform" or config.loss == "gbce"
        self.probability = None if uniform else torch.as_tensor(popularity / popularity.sum(), dtype=torch.float32,
                                                                 device=device)

    def shared(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(items [K], log(K q) [K])."""
        if self.probability is None:
            items = torch.randint(self.n_items, (k,), generator=self.generator, device=self.device)
            return items, torch.full((k,), math.log(k / self.n_items), device=self.device)
        items = torch.multinomial(self.probability, k, replacement=True, generator=self.generator)
        return items, torch.log(k * self.probability[items])

    def per_window(self, windows: int, k: int) -> torch.Tensor:
        """[B, K]: K uniform items for each of ``windows`` windows."""
        return torch.randint(self.n_items, (windows, k), generator=self.generator, device=self.device)

    def per_row(self, targets: torch.Tensor) -> torch.Tensor:
        """[N]: for each target a uniform item other than it."""
        drawn = torch.randint(self.n_items - 1, targets.shape, generator=self.generator, device=self.device)
        return drawn + (drawn >= targets).long()


def _check_data(config: SASRecConfig, data: SessionLog) -> None:
    if data.n_items < 2:
        raise ConfigError("SASRec needs at least 2 items to rank")
    start, end = sequence_bounds(data, config.sessions_only)
    if data.n_events == 0 or not np.any(end - start > 1):
        raise ConfigError("the training log has no (input, target) pair to train on: every "
                          f"{'session' if config.sessions_only else 'user'} has a single event")


def _diverged(config: SASRecConfig, epoch: int, step: int, value: float) -> TrainingDiverged:
    return TrainingDiverged(f"the training loss became {value} in epoch {epoch} (step {step}) of {config.model}: "
                            f"lower the learning rate (now {config.learning_rate:g})")


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device, threads: int | None) -> Iterator[None]:
    """Run the block with torch's global generators (dropout) seeded with ``seed`` and restored
    afterwards, and ``threads`` intra-op threads (None: unchanged)."""
    previous = torch.get_num_threads()
    devices = [torch.cuda.current_device() if device.index is None else device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def train_sasrec(config: SASRecConfig, data: SessionLog, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None, on_epoch: EpochCallback | None = None,
                 after_epoch: SASRecAfterEpoch | None = None) -> SASRecResult:
    """Train ``config.model`` on ``data`` for ``config.epochs`` epochs.

    ``on_epoch(epoch, mean_loss, wall_seconds)`` runs after every epoch, then
    ``after_epoch(epoch, network)`` (e.g. to score the validation split; it may raise to stop the
    training); ``progress`` within epochs. Raises :class:`ConfigError`,
    :class:`engine.errors.Cancelled` (polled every step) or :class:`TrainingDiverged`. Same seed and
    device give the same loss curve. On a CPU it trains with
    :func:`engine.training.loop.cpu_training_threads` torch threads.
    """
    config.validate()
    _check_data(config, data)
    device = resolve_device(config.device)
    with _seeded(config.seed, device, cpu_training_threads() if device.type == "cpu" else None):
        return _fit(config, data, device, progress, cancel or CancelToken(), on_epoch, after_epoch)


def _fit(config: SASRecConfig, data: SessionLog, device: torch.device, progress: ProgressCallback,
         cancel: CancelToken, on_epoch: EpochCallback | None, after_epoch: SASRecAfterEpoch | None) -> SASRecResult:
    network = SASRecNetwork(config.network_spec(data.n_items), seed=config.seed).to(device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, betas=(0.9, 0.98))
    generator = torch.Generator(device=device).manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    popularity = np.bincount(data.item, minlength=data.n_items).astype(np.float64)
    sampler = NegativeSampler(config, popularity, device, generator)
    needs = SEQUENCE_LOSSES[config.loss].negatives
    beta = gbce_beta(config.negatives, data.n_items, config.gbce_calibration)
    windows = training_windows(data, config.sessions_only, config.max_length, config.windows == "latest")
    pad = network.spec.pad_item
    n_steps = -(-windows.n_windows // config.batch_size)
    losses: list[float] = []
    seconds: list[float] = []
    last_report = 0.0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        order = batch_order(windows, config.batch_size, rng)
        record = torch.zeros(n_steps, 2, device=device)  # per step: loss, targets
        checked = 0
        for step in range(n_steps):
            cancel.raise_if_cancelled()
            chosen = order[step * config.batch_size: (step + 1) * config.batch_size]
            inputs, gaps, targets = (torch.from_numpy(array).to(device, non_blocking=True)
                                     for array in window_batch(windows, chosen, data, pad))
            hidden = network.encode(inputs, gaps if network.gap_embedding is not None else None)  # [b, T, d]
            present = targets != pad  # [b, T]
            rows, wanted = hidden[present], targets[present]  # [N, d], [N]
            negatives = log_expected = None
            if needs == "shared":
                negatives, log_expected = sampler.shared(config.negatives)
            elif needs == "per_row":
                negatives = sampler.per_row(wanted)
            elif needs == "per_window":
                negatives = sampler.per_window(len(chosen), config.negatives)
            loss = sequence_loss(config.loss, SequenceLossInputs(rows, network.item_vectors, wanted, negatives,
                                                                 log_expected, beta, hidden, present))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            record[step, 0] = loss.detach()
            record[step, 1] = float(len(wanted))
            done = step + 1
            if done - checked >= FINITE_CHECK_STEPS or done == n_steps:
                finite = torch.isfinite(record[checked:done, 0])
                if not bool(finite.all()):
                    first = checked + int((~finite).nonzero()[0, 0])
                    raise _diverged(config, epoch, first + 1, float(record[first, 0]))
                checked = done
            now = time.perf_counter()
            if now - last_report >= PROGRESS_SECONDS:
                last_report = now
                progress((epoch - 1 + done / n_steps) / config.epochs,
                         f"{config.model}: epoch {epoch}/{config.epochs}, step {done}/{n_steps}")
        mean_loss = float((record[:, 0] * record[:, 1]).sum() / record[:, 1].sum().clamp_min(1.0))
        if not math.isfinite(mean_loss):
            raise _diverged(config, epoch, n_steps, mean_loss)
        wall = time.perf_counter() - started
        losses.append(mean_loss)
        seconds.append(wall)
        logger.info("%s epoch %d: loss %.5f, %.1f s, %.0f pairs/s", config.model, epoch, mean_loss, wall,
                    windows.n_pairs / max(wall, 1e-9))
        if on_epoch is not None:
            on_epoch(epoch, mean_loss, wall)
        if after_epoch is not None:
            after_epoch(epoch, network)
            network.train()
    progress(1.0, f"{config.model}: trained {config.epochs} epochs")
    return SASRecResult(config, network.eval(), tuple(losses), tuple(seconds), windows.n_pairs, str(device))
