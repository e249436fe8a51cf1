"""Step runners: blocks of steps from static buffers (what a CUDA graph replays) give exactly the
eager results; the CUDA-graph runner is chosen only on a CUDA device."""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.training import loop
from engine.training.config import MAX_CUDA_GRAPH_STEPS, TrainConfig
from engine.training.loop import train
from engine.training.step_runner import BlockSteps, EagerSteps, GraphedSteps, make_step_runner
from tests.test_training_loop import patterned_log, small

torch.set_num_threads(1)

#: Dropout, extra negatives and momentum: every random draw and every kind of state is exercised.
BUSY = dict(dropout_session=0.2, dropout_user=0.1, dropout_init=0.2, momentum=0.3, n_extra_negatives=3)


def _trained(cfg: TrainConfig, block: int | None, monkeypatch: pytest.MonkeyPatch, chunk: int | None = None):
    """Train with blocks of ``block`` steps (None: eager); returns the result and the blocks run."""
    blocks: list[int] = []
    if block is not None:
        class CountingBlocks(BlockSteps):
            def _launch(self) -> None:
                blocks.append(self.block)
                super()._launch()

        monkeypatch.setattr(loop, "make_step_runner", lambda step, steps: CountingBlocks(step, block))
    if chunk is not None:
        monkeypatch.setattr(loop, "CHUNK_STEPS", chunk)
    result = train(cfg, patterned_log())
    monkeypatch.undo()
    return result, blocks


@pytest.mark.parametrize("model", ["rnn", "rnn-concat", "hrnn-init", "hrnn-all"])
@pytest.mark.parametrize("block,chunk", [(4, None), (5, 7), (1, None)])
def test_blocks_of_steps_give_the_eager_losses_and_weights(model: str, block: int, chunk: int | None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = small(model, epochs=2, **BUSY)
    eager, _ = _trained(cfg, None, monkeypatch)
    blocked, blocks = _trained(cfg, block, monkeypatch, chunk)
    assert blocks, "the block runner was not used"
    assert blocked.epoch_losses == eager.epoch_losses
    assert torch.equal(blocked.network.dense.data, eager.network.dense.data)
    assert torch.equal(blocked.network.item_out.data, eager.network.item_out.data)


def test_partial_blocks_run_eagerly_and_every_step_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block never crosses the end of the epoch or of a chunk of inputs; the rest runs eagerly."""
    cfg = small("hrnn-init", epochs=1)
    calls: list[tuple[str, int]] = []

    class Counting(BlockSteps):
        def run(self, tensors, k, out):
            calls.append(("block", k))
            super().run(tensors, k, out)

    class CountingEager(EagerSteps):
        def run(self, tensors, k, out):
            calls.append(("eager", k))
            super().run(tensors, k, out)

    monkeypatch.setattr(loop, "make_step_runner", lambda step, steps: Counting(step, 4))
    monkeypatch.setattr(loop, "EagerSteps", CountingEager)
    monkeypatch.setattr(loop, "CHUNK_STEPS", 10)
    train(cfg, patterned_log())
    n_steps = loop.make_batcher(cfg).schedule(patterned_log(), np.random.default_rng(cfg.seed)).n_steps
    expected = []
    for chunk_start in range(0, n_steps, 10):
        length = min(10, n_steps - chunk_start)
        whole = length // 4 * 4
        expected += [("block", k) for k in range(0, whole, 4)] + [("eager", k) for k in range(whole, length)]
    assert calls == expected  # chunk-relative first steps: every step runs once, in order
    assert ("eager", 9) in calls and ("block", 4) in calls


def test_cuda_graphs_are_used_only_on_a_cuda_device() -> None:
    from engine.models.network import RecurrentNetwork
    from engine.training.train_step import TrainStep

    cfg = small("hrnn-init")
    log = patterned_log()
    net = RecurrentNetwork(cfg.network_spec(log.n_items), seed=0)
    step = TrainStep(cfg, net, np.bincount(log.item, minlength=log.n_items).astype(float), torch.Generator())
    assert isinstance(make_step_runner(step, 16), EagerSteps)  # a CPU: always eager
    with pytest.raises(ValueError, match="CUDA"):
        GraphedSteps(step, 16)
    with pytest.raises(ValueError, match="at least one step"):
        BlockSteps(step, 0)


@pytest.mark.parametrize("value", [-1, MAX_CUDA_GRAPH_STEPS + 1])
def test_cuda_graph_steps_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(ConfigError, match=r"CUDA graph steps must be in \[0, 256\]"):
        dataclasses.replace(small("rnn"), cuda_graph_steps=value).validate()


def test_configs_stored_before_the_setting_existed_still_load() -> None:
    text = small("rnn").to_json().replace(', "cuda_graph_steps": 16', "")
    assert "cuda_graph_steps" not in text
    assert TrainConfig.from_json(text).cuda_graph_steps == 16


class FakeCuda:
    """Stands in for ``torch.cuda`` on a CPU. As in a real capture, nothing the captured code does
    takes effect: every tensor of the run (and the generator) is restored when the capture ends;
    a replay then runs the recorded block. ``fail_capture`` makes the capture raise midway."""

    def __init__(self, step, fail_capture: bool = False) -> None:
        self.step = step
        self.fail_capture = fail_capture
        self.events: list[str] = []
        cuda = self

        class Stream:
            def __init__(self, device=None) -> None:
                pass

            def wait_stream(self, other) -> None:
                pass

            def synchronize(self) -> None:
                pass

        class CUDAGraph:
            def __init__(self) -> None:
                self.body = None

            def register_generator_state(self, generator) -> None:
                assert generator is cuda.step.generator

            def replay(self) -> None:
                cuda.events.append("replay")
                self.body()

        self.Stream, self.CUDAGraph = Stream, CUDAGraph
        self.capturing: CUDAGraph | None = None

    def tensors(self) -> list[torch.Tensor]:
        step, opt = self.step, self.step.optimizer
        return [step.net.dense.data, step.net.item_in.data, step.net.item_out.data, *step.state,
                *opt.first, *[t for t in opt.second if t is not None], opt.step_count]

    def current_stream(self, device=None):
        return self.Stream()

    def stream(self, stream):
        self.events.append("side stream")
        return contextlib.nullcontext()

    def synchronize(self, device=None) -> None:
        pass

    @contextlib.contextmanager
    def graph(self, graph, stream=None):
        saved = [t.clone() for t in self.tensors()]
        generator = self.step.generator.get_state()
        self.events.append("capture")
        try:
            yield
            if self.fail_capture:
                raise RuntimeError("operation not permitted when stream is capturing")
        finally:
            for tensor, before in zip(self.tensors(), saved, strict=True):
                tensor.copy_(before)
            self.step.generator.set_state(generator)
        graph.body = self._recorded

    def _recorded(self) -> None:
        self.runner._body()


@pytest.mark.parametrize("fail_capture", [False, True], ids=["captured", "capture fails"])
def test_graphed_runner_warms_up_captures_and_replays_to_the_eager_results(
        fail_capture: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """First block eagerly on the side stream, second captured (which runs nothing) then replayed,
    later blocks replayed; a failed capture goes on eagerly. Either way: the eager results."""
    cfg = small("hrnn-all", epochs=2, **BUSY)
    eager, _ = _trained(cfg, None, monkeypatch)
    fakes: list[FakeCuda] = []

    def graphed(step, steps):
        fake = FakeCuda(step, fail_capture)
        fake.runner = GraphedSteps(step, 4, cuda=fake)
        fakes.append(fake)
        return fake.runner

    monkeypatch.setattr(loop, "make_step_runner", graphed)
    with caplog.at_level("WARNING"):
        result = train(cfg, patterned_log())
    (fake,) = fakes
    assert result.epoch_losses == eager.epoch_losses
    assert torch.equal(result.network.dense.data, eager.network.dense.data)
    assert torch.equal(result.network.item_in.data, eager.network.item_in.data)
    assert fake.events[:2] == ["side stream", "capture"]
    if fail_capture:
        assert fake.runner.failed and not fake.runner.captured
        assert fake.events == ["side stream", "capture"]
        assert "capture of the training step failed" in caplog.text
    else:
        assert fake.runner.captured and not fake.runner.failed
        assert set(fake.events[2:]) == {"replay"} and len(fake.events) > 10  # one capture, then replays
