"""Running training steps: one at a time, or blocks of steps replayed from a CUDA graph.

A training step of the small networks launches about 200 small kernels; on a GPU, launching them
one by one from Python costs far more than running them. :class:`GraphedSteps` records the kernels
of ``block`` consecutive steps once, in a CUDA graph, and then runs a whole block with one launch.

The graph reads its inputs from static buffers (filled by one copy per block) and writes each
step's loss and row count to a static output. The carried states, the parameters and the
optimizer state are updated in place, in the very buffers an eager step uses, so eager steps and
replays mix freely: the last, partial block of an epoch runs eagerly. The random draws (dropout
masks, extra negatives) come from the run's generator, registered with the graph, so each replay
draws new numbers. The first block runs eagerly on the capture stream (the warm-up CUDA graphs
need before a capture); the second is captured and replayed. If the capture fails (an older
PyTorch, an operation that cannot be captured), the runner says so once in the log and goes on
eagerly: training never fails for want of a graph.

:class:`BlockSteps` is the same block runner without the graph (what the graph records); the
tests run it on a CPU to pin that blocks give exactly the eager results.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from engine.training.fused_step import FusedSteps, FusedTrainStep
from engine.training.train_step import EpochTensors, TrainStep

logger = logging.getLogger(__name__)


class EagerSteps:
    """Runs one step at a time."""

    block = 1

    def __init__(self, step: TrainStep) -> None:
        self.step = step

    def run(self, tensors: EpochTensors, k: int, out: Tensor) -> None:
        """Run step ``k`` of ``tensors``; write its loss and counted rows to ``out`` [1, 2]."""
        result = self.step(tensors.items[k], tensors.targets[k], tensors.keep[k], tensors.update[k],
                           tensors.active[k])
        out[0, 0] = result.loss
        out[0, 1] = result.rows


class BlockSteps:
    """Runs ``block`` consecutive steps from static input buffers into a static output."""

    def __init__(self, step: TrainStep, block: int) -> None:
        if block < 1:
            raise ValueError(f"a block has at least one step, not {block}")
        self.step = step
        self.block = block
        batch, device = step.config.batch_size, step.device
        self.items = torch.zeros(block, batch, dtype=torch.int64, device=device)
        self.targets = torch.zeros(block, batch, dtype=torch.int64, device=device)
        self.keep = torch.zeros(block, batch, 1, device=device)
        self.update = torch.zeros(block, batch, 1, device=device)
        self.active = torch.zeros(block, batch, dtype=torch.bool, device=device)
        self.out = torch.zeros(block, 2, device=device)  # per step: loss, rows counted

    def run(self, tensors: EpochTensors, k: int, out: Tensor) -> None:
        """Run steps ``k .. k + block - 1`` of ``tensors``; write losses and rows to ``out``
        [block, 2]."""
        end = k + self.block
        self.items.copy_(tensors.items[k:end])
        self.targets.copy_(tensors.targets[k:end])
        self.keep.copy_(tensors.keep[k:end])
        self.update.copy_(tensors.update[k:end])
        self.active.copy_(tensors.active[k:end])
        self._launch()
        out.copy_(self.out)

    def _launch(self) -> None:
        self._body()

    def _body(self) -> None:
        """The block's steps, reading and writing only the static buffers."""
        for i in range(self.block):
            result = self.step(self.items[i], self.targets[i], self.keep[i], self.update[i], self.active[i])
            self.out[i, 0].copy_(result.loss)
            self.out[i, 1].copy_(result.rows)


class GraphedSteps(BlockSteps):
    """:class:`BlockSteps` replayed from a CUDA graph (CUDA devices only).

    ``cuda`` is the module that provides ``Stream``, ``CUDAGraph``, ``graph``, ``stream``,
    ``current_stream`` and ``synchronize`` (``torch.cuda``; the tests pass a stand-in)."""

    def __init__(self, step: TrainStep, block: int, cuda: Any = torch.cuda) -> None:
        if cuda is torch.cuda and step.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, not {step.device}")
        super().__init__(step, block)
        self.cuda = cuda
        self.stream = cuda.Stream(device=step.device)
        self.graph = None
        self.warmed_up = False
        self.failed = False

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def _launch(self) -> None:
        if self.failed:
            self._body()
        elif not self.warmed_up:
            self._on_side_stream(self._body)
            self.warmed_up = True
        else:
            if self.graph is None:
                self._capture()
            if self.graph is not None:
                self.graph.replay()
            else:
                self._body()

    def _on_side_stream(self, work: Callable[[], None]) -> None:
        current = self.cuda.current_stream(self.step.device)
        self.stream.wait_stream(current)
        with self.cuda.stream(self.stream):
            work()
        current.wait_stream(self.stream)

    def _capture(self) -> None:
        """Record ``_body`` (nothing runs during the capture); on failure, stay eager."""
        graph = self.cuda.CUDAGraph()
        try:
            graph.register_generator_state(self.step.generator)
            self.cuda.current_stream(self.step.device).synchronize()
            with self.cuda.graph(graph, stream=self.stream):
                self._body()
        except Exception as exc:  # noqa: BLE001 - any capture failure falls back to eager steps
            self.failed = True
            with contextlib.suppress(Exception):
                self.cuda.synchronize(self.step.device)
            logger.warning("CUDA graph capture of the training step failed (%s: %s); training goes on "
                           "without graphs (slower)", type(exc).__name__, exc)
            return
        self.graph = graph
        logger.info("training step captured in a CUDA graph of %d steps", self.block)


def make_step_runner(step: TrainStep, graph_steps: int) -> EagerSteps | GraphedSteps | FusedSteps:
    """Graphed blocks of ``graph_steps`` steps on a CUDA device (``graph_steps`` > 0), blocks of the
    fused kernel for a fused step (a CPU), else eager."""
    if step.device.type == "cuda" and graph_steps > 0:
        return GraphedSteps(step, graph_steps)
    if isinstance(step, FusedTrainStep):
        return FusedSteps(step)
    return EagerSteps(step)
