"""The fused CPU training step (engine/training/fused_step.py): the tensor step's losses, weights and
carried states within float32 tolerance, for every network, loss, optimizer and option it claims; a
block of fused steps equals the same steps one by one exactly; train() uses it on a CPU and falls
back to the tensor step, with a one-line notice, where it cannot.

Tolerance: losses and weights agree to rtol 1e-4 (atol 1e-5 on weights, 1e-6 on losses). Adam's
update g / sqrt(v) turns a gradient that is only rounding noise (|g| ~ 1e-6, computed in another
order) into a step of up to the learning rate, so its weights get atol 1e-3 x the learning rate.
The first test of a fresh checkout compiles the kernel (tens of seconds, once: numba caches it).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import NamedTuple

import numpy as np
import pytest
import torch

from engine.models.losses import LOSSES
from engine.models.network import RecurrentNetwork
from engine.training import fused_step
from engine.training.fused_step import (
    FUSED_STEP_VARIABLE,
    FusedSteps,
    FusedTrainStep,
    make_train_step,
    unsupported_reason,
)
from engine.training.loop import make_batcher, train
from engine.training.step_runner import EagerSteps, make_step_runner
from engine.training.train_step import TrainStep, epoch_tensors
from tests.test_training_loop import patterned_log, small

torch.set_num_threads(1)

LOG = patterned_log(n_users=14, n_items=25, sessions=4, seed=3)
POPULARITY = np.bincount(LOG.item, minlength=LOG.n_items).astype(np.float64)
STEPS = 14
DROPOUT = dict(dropout_session=0.2, dropout_user=0.15, dropout_init=0.25)
MODELS = ["rnn", "rnn-concat", "hrnn-init", "hrnn-all"]


class Trained(NamedTuple):
    losses: np.ndarray  # [steps]
    rows: np.ndarray  # [steps]
    step: TrainStep


def _config(model: str, **kw: object) -> object:
    base: dict[str, object] = dict(session_units=12, user_units=10, batch_size=5, n_extra_negatives=3,
                                   learning_rate=0.05, seed=4)
    base.update(kw)
    return small(model, **base)


def _run(cfg, fused: bool, steps: int = STEPS, block: int = 0) -> Trained:
    """``steps`` training steps of ``cfg`` from the same seed: the tensor step, or the fused one
    (one by one, or in blocks of ``block`` steps, the rest one by one)."""
    net = RecurrentNetwork(cfg.network_spec(LOG.n_items), seed=cfg.seed)
    kind = FusedTrainStep if fused else TrainStep
    step = kind(cfg, net, POPULARITY, torch.Generator().manual_seed(cfg.seed))
    schedule = make_batcher(cfg).schedule(LOG, np.random.default_rng(cfg.seed))
    tensors = epoch_tensors(schedule, LOG, net.spec.pad_item, torch.device("cpu"))
    steps = min(steps, len(tensors.items))
    record = torch.zeros(steps, 2)
    k = 0
    if block:
        runner = FusedSteps(step, block)
        while k + block <= steps:
            runner.run(tensors, k, record[k: k + block])
            k += block
    for t in range(k, steps):
        result = step(tensors.items[t], tensors.targets[t], tensors.keep[t], tensors.update[t], tensors.active[t])
        record[t, 0], record[t, 1] = result.loss, result.rows
    return Trained(record[:, 0].numpy().copy(), record[:, 1].numpy().copy(), step)


def _weights(trained: Trained) -> dict[str, torch.Tensor]:
    net = trained.step.net
    return {"dense": net.dense.data, "item_in": net.item_in.data, "item_out": net.item_out.data,
            "session state": trained.step.state[0], "user state": trained.step.state[1]}


def assert_same_training(expected: Trained, actual: Trained, cfg) -> None:
    np.testing.assert_array_equal(actual.rows, expected.rows)
    np.testing.assert_allclose(actual.losses, expected.losses, rtol=1e-4, atol=1e-6, err_msg="losses")
    atol = 1e-3 * cfg.learning_rate if cfg.optimizer == "adam" else 1e-5
    for name, want in _weights(expected).items():
        np.testing.assert_allclose(_weights(actual)[name].numpy(), want.numpy(), rtol=1e-4, atol=atol, err_msg=name)


def _compare(cfg) -> None:
    cfg.validate()
    assert unsupported_reason(cfg, torch.device("cpu")) is None
    assert_same_training(_run(cfg, fused=False), _run(cfg, fused=True), cfg)


@pytest.mark.parametrize("dropout", [False, True], ids=["no dropout", "dropout"])
@pytest.mark.parametrize("optimizer", ["adagrad", "adam"])
@pytest.mark.parametrize("loss", LOSSES.names())
@pytest.mark.parametrize("model", MODELS)
def test_fused_steps_train_as_the_tensor_step(model: str, loss: str, optimizer: str, dropout: bool) -> None:
    lr = 0.01 if optimizer == "adam" else 0.05
    cfg = _config(model, loss=loss, optimizer=optimizer, learning_rate=lr, **(DROPOUT if dropout else {}))
    _compare(cfg)


#: Every other option the kernel computes, each on the networks it applies to.
OPTIONS = {
    "reset gate after (GRUCell biases)": dict(reset_gate="after"),
    "tied embedding + its dropout": dict(constrained_embedding=True, dropout_embedding=0.3),
    "embedding + its dropout": dict(embedding_size=7, dropout_embedding=0.2),
    "2017 compatibility": dict(compat_2017=True),
    "adagrad momentum": dict(momentum=0.4),
    "batch normalization of the loss": dict(loss_normalization="batch"),
    "log-Q coefficient": dict(loss="cross-entropy", logq=0.7, sample_alpha=0.5),
    "elu": dict(loss="bpr-max", final_activation="elu", elu_alpha=0.5, bpr_max_reg=0.3),
    "tanh on a max loss": dict(loss="top1-max", final_activation="tanh"),
    "linear on TOP1": dict(loss="top1", final_activation="linear"),
    "no extra negatives": dict(n_extra_negatives=0),
    "uniform extra negatives": dict(n_extra_negatives=6, sample_alpha=0.0),
    "official GRU4Rec recipe": dict(loss="bpr-max", final_activation="elu", constrained_embedding=True,
                                    reset_gate="after", loss_normalization="batch", n_extra_negatives=8,
                                    sample_alpha=0.5, dropout_session=0.0),
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("option", list(OPTIONS))
def test_fused_steps_train_as_the_tensor_step_with_each_option(model: str, option: str) -> None:
    _compare(_config(model, **{**DROPOUT, **OPTIONS[option]}))


def test_hrnn_all_feeding_the_user_state_to_every_gate() -> None:
    _compare(_config("hrnn-all", all_mode="input", reset_gate="after", **DROPOUT))
    _compare(_config("hrnn-all", all_mode="input", optimizer="adam", learning_rate=0.01, **DROPOUT))


def test_the_comparison_can_fail() -> None:
    """The tolerance is tight enough to notice a step that differs slightly (here: the learning
    rate by 0.1%, or another draw of the dropout masks)."""
    cfg = _config("hrnn-init", **DROPOUT)
    expected = _run(cfg, fused=False)
    with pytest.raises(AssertionError):
        assert_same_training(expected, _run(dataclasses.replace(cfg, learning_rate=0.05005), fused=True), cfg)
    with pytest.raises(AssertionError):
        other_draws = _run(dataclasses.replace(cfg, seed=5), fused=True)
        assert_same_training(expected, other_draws, cfg)


@pytest.mark.parametrize("model", ["rnn", "hrnn-all"])
def test_a_block_of_fused_steps_is_the_same_steps_one_by_one_exactly(model: str) -> None:
    cfg = _config(model, momentum=0.2, dropout_embedding=0.1, embedding_size=6, **DROPOUT)
    one_by_one = _run(cfg, fused=True)
    blocks = _run(cfg, fused=True, block=4)  # 3 blocks of 4, then 2 steps one by one
    np.testing.assert_array_equal(blocks.losses, one_by_one.losses)
    for name, want in _weights(one_by_one).items():
        assert torch.equal(_weights(blocks)[name], want), name
    with pytest.raises(ValueError, match="1 to"):
        FusedSteps(blocks.step, blocks.step.block + 1)


def test_train_uses_the_fused_step_on_a_cpu_and_learns_as_the_tensor_step(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    cfg = small("hrnn-all", epochs=3, n_extra_negatives=4, loss="bpr-max", **DROPOUT)
    used: list[int] = []
    run = FusedSteps.run

    def counting(self, tensors, k, out) -> None:
        used.append(len(out))
        run(self, tensors, k, out)

    monkeypatch.setattr(fused_step, "FUSED_BLOCK_STEPS", 8)
    monkeypatch.setattr(FusedSteps, "run", counting)
    with caplog.at_level(logging.INFO, logger="engine.training.fused_step"):
        fused = train(cfg, LOG)
    assert used and set(used) == {8}, used
    assert not [r for r in caplog.records if "tensor step" in r.getMessage()]
    monkeypatch.setenv(FUSED_STEP_VARIABLE, "0")
    with caplog.at_level(logging.INFO, logger="engine.training.fused_step"):
        tensor = train(cfg, LOG)
    (notice,) = [r.getMessage() for r in caplog.records if "tensor step" in r.getMessage()]
    assert notice == f"training step: the tensor step (${FUSED_STEP_VARIABLE} is 0)"
    np.testing.assert_allclose(fused.epoch_losses, tensor.epoch_losses, rtol=1e-4)
    for name in ("dense", "item_in", "item_out"):
        np.testing.assert_allclose(getattr(fused.network, name).numpy(), getattr(tensor.network, name).numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=name)


def _fresh_step(cfg) -> TrainStep:
    net = RecurrentNetwork(cfg.network_spec(LOG.n_items), seed=0)
    return make_train_step(cfg, net, POPULARITY, torch.Generator().manual_seed(0))


def test_the_fused_step_is_chosen_on_a_cpu_with_its_block_runner() -> None:
    step = _fresh_step(_config("hrnn-init"))
    assert isinstance(step, FusedTrainStep)
    assert isinstance(make_step_runner(step, 16), FusedSteps)


def test_unsupported_settings_fall_back_to_the_tensor_step_with_a_notice(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config("hrnn-init", loss="bpr")
    cpu = torch.device("cpu")
    assert unsupported_reason(cfg, torch.device("cuda")) == "the fused step runs on a CPU, not cuda"
    assert "compact user rows" in str(unsupported_reason(cfg, cpu, compact_user_rows=False))
    kernels = fused_step._kernels()
    monkeypatch.setattr(kernels, "LOSS_CODES", {k: v for k, v in kernels.LOSS_CODES.items() if k != "bpr"})
    assert unsupported_reason(cfg, cpu) == "the fused step does not compute the loss 'bpr'"
    with caplog.at_level(logging.INFO, logger="engine.training.fused_step"):
        step = _fresh_step(cfg)
    assert type(step) is TrainStep
    assert isinstance(make_step_runner(step, 16), EagerSteps)
    assert [r.getMessage() for r in caplog.records] == [
        "training step: the tensor step (the fused step does not compute the loss 'bpr')"]
    with pytest.raises(ValueError, match="does not compute the loss"):
        FusedTrainStep(cfg, RecurrentNetwork(cfg.network_spec(LOG.n_items)), POPULARITY, torch.Generator())


def test_every_setting_is_known_to_the_fused_step_and_a_new_one_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A setting added to TrainConfig must be computed by the kernel (and listed in KNOWN_SETTINGS)
    before the fused step trains with it: until then, the tensor step does."""
    cfg = _config("hrnn-all")
    assert {f.name for f in dataclasses.fields(cfg)} == fused_step.KNOWN_SETTINGS
    monkeypatch.setattr(fused_step, "KNOWN_SETTINGS", fused_step.KNOWN_SETTINGS - {"all_mode"})
    assert unsupported_reason(cfg, torch.device("cpu")) == "the fused step does not know the setting(s) all_mode"
    kernels = fused_step._kernels()
    monkeypatch.setattr(kernels, "DENSE_NAMES", tuple(n for n in kernels.DENSE_NAMES if n != "session.v_rz"))
    monkeypatch.setattr(fused_step, "KNOWN_SETTINGS", fused_step.KNOWN_SETTINGS | {"all_mode"})
    expected = "the fused step does not compute the parameter(s) session.v_rz"
    assert unsupported_reason(cfg, torch.device("cpu")) == expected


def test_without_numba_the_tensor_step_trains(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def missing():
        raise ModuleNotFoundError("No module named 'numba'")

    monkeypatch.setattr(fused_step, "_kernels", missing)
    cfg = small("rnn", epochs=1)
    with caplog.at_level(logging.INFO, logger="engine.training.fused_step"):
        result = train(cfg, LOG)
    assert np.isfinite(result.epoch_losses).all()
    assert [r.getMessage() for r in caplog.records] == [
        "training step: the tensor step (numba is not available (ModuleNotFoundError: No module named 'numba'))"]


def test_divergence_is_still_caught_with_the_fused_step() -> None:
    """NaN and infinities propagate through the kernel's arithmetic to the loss."""
    from engine.errors import TrainingDiverged

    cfg = small("hrnn-init", epochs=2, loss="cross-entropy", learning_rate=1e38)
    with pytest.raises(TrainingDiverged, match=r"training loss became (nan|inf) in epoch 1"):
        train(cfg, LOG)
