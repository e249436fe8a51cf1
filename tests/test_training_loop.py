"""train(): learning, determinism, callbacks, cancellation, divergence and config validation."""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.errors import Cancelled, ConfigError, TrainingDiverged
from engine.progress import CancelToken
from engine.training.config import TrainConfig
from engine.training.loop import train
from engine.training.presets import NETWORK_PRESETS, preset

torch.set_num_threads(1)


def patterned_log(n_users: int = 12, n_items: int = 20, sessions: int = 4, seed: int = 0) -> SessionLog:
    """Each session walks the cycle of items from a random start: the next item is always the
    current one + 1, easy to overfit."""
    rng = np.random.default_rng(seed)
    user, session, item = [], [], []
    sid = 0
    for u in range(n_users):
        for _ in range(sessions):
            start = int(rng.integers(0, n_items))
            items = [(start + k) % n_items for k in range(5)]
            user += [u] * 5
            session += [sid] * 5
            item += items
            sid += 1
    return SessionLog.from_arrays(np.array(user), np.array(session), np.array(item),
                                  np.arange(len(item), dtype=float), n_users, n_items)


def small(model: str, **kw) -> TrainConfig:
    base = dict(model=model, session_units=16, user_units=16, batch_size=4, epochs=2,
                dropout_session=0.0, learning_rate=0.1, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("model", ["rnn", "rnn-concat", "hrnn-init", "hrnn-all"])
def test_tiny_model_overfits_tiny_log(model: str) -> None:
    log = patterned_log()
    result = train(small(model, epochs=25, loss="cross-entropy", n_extra_negatives=8), log)
    assert result.epoch_losses[-1] < 0.4 * result.epoch_losses[0], result.epoch_losses


def test_same_seed_same_losses_and_other_seed_differs() -> None:
    log = patterned_log()
    cfg = small("hrnn-all", dropout_session=0.2, dropout_user=0.1, dropout_init=0.2, momentum=0.2,
                n_extra_negatives=4)
    a = train(cfg, log).epoch_losses
    b = train(cfg, log).epoch_losses
    c = train(dataclasses.replace(cfg, seed=1), log).epoch_losses
    assert a == b
    assert a != c


def test_callbacks_report_epochs_and_progress() -> None:
    epochs: list[tuple[int, float, float]] = []
    fractions: list[float] = []
    result = train(small("rnn-concat", epochs=3), patterned_log(),
                   progress=lambda f, m: fractions.append(f), on_epoch=lambda e, loss, s: epochs.append((e, loss, s)))
    assert [e for e, _, _ in epochs] == [1, 2, 3]
    assert [loss for _, loss, _ in epochs] == list(result.epoch_losses)
    assert all(s > 0 for _, _, s in epochs)
    assert fractions[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in fractions)
    assert result.device == "cpu" and result.pairs_per_second > 0


def test_cancel_stops_within_a_second() -> None:
    token = CancelToken()
    outcome: dict[str, float] = {}

    def run() -> None:
        try:
            train(small("hrnn-init", epochs=1000), patterned_log(n_users=40), cancel=token)
        except Cancelled:
            outcome["raised_at"] = time.perf_counter()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)
    cancelled_at = time.perf_counter()
    token.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert outcome["raised_at"] - cancelled_at < 1.0


def test_huge_learning_rate_raises_training_diverged() -> None:
    cfg = small("rnn", learning_rate=1e38, loss="cross-entropy", epochs=3)
    with pytest.raises(TrainingDiverged, match=r"epoch 1 .*lower the learning rate"):
        train(cfg, patterned_log())


def test_runaway_weights_fail_the_run_although_the_loss_stays_finite() -> None:
    """TOP1 on tanh outputs is bounded, so a learning rate of 1e38 keeps the loss finite while the
    output weights reach ~1e38 and the scores overflow: the run must fail, not finish."""
    cfg = small("rnn", learning_rate=1e38, loss="top1", epochs=2)
    with pytest.raises(TrainingDiverged, match=r"epoch 1 .*scores can overflow.*lower the learning rate"):
        train(cfg, patterned_log())


def test_non_finite_weights_fail_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.training import loop

    real = loop.RecurrentNetwork

    def poisoned(spec, seed=0):
        network = real(spec, seed)
        network.item_out.data[spec.n_items - 1] = float("nan")  # an item that is never a column: no loss sees it
        return network

    log = patterned_log()
    unseen = SessionLog.from_arrays(log.user, log.session, log.item, log.time, log.n_users, log.n_items + 1)
    monkeypatch.setattr(loop, "RecurrentNetwork", poisoned)
    with pytest.raises(TrainingDiverged, match="item output weights became infinite or NaN in epoch 1"):
        train(small("hrnn-init", epochs=1, loss="top1"), unseen)


@pytest.mark.parametrize("change,message", [
    (dict(learning_rate=1e300, loss="bpr-max"), r"Learning rate must be in \(0, 3.40282e\+38\] \(got 1e\+300\)"),
    (dict(seed=-5), r"Seed must be in \[0, 9223372036854775807\] \(got -5\)"),
    (dict(dropout_session="abc"), r"Session dropout must be a number in \[0, 1\) \(got 'abc'\)"),
    (dict(compat_2017=1), "2017 code compatibility must be true or false"),
    (dict(model="lstm"), "Model must be one of rnn, rnn-concat, hrnn-init, hrnn-all"),
    (dict(dropout_session=1.0), r"Session dropout must be in \[0, 1\)"),
    (dict(batch_size=0), "Batch size must be at least 1"),
    (dict(learning_rate=-0.1), "Learning rate must be in"),
    (dict(optimizer="adam", momentum=0.3), "Momentum applies to the Adagrad optimizer only"),
    (dict(loss="hinge"), "Loss must be one of top1, bpr"),
])
def test_bad_settings_are_refused_by_their_label(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        train(dataclasses.replace(small("rnn"), **change), patterned_log())
    assert info.value.setting in change  # the command line and the form know which setting it was


def test_stop_at_first_exhausted_needs_enough_users() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        train(small("hrnn-init", batch_size=50, batch_end="stop_at_first_exhausted"), patterned_log())


def test_presets_follow_the_paper_table() -> None:
    p = NETWORK_PRESETS["hrnn-all"]["large"]
    assert (p.session_units, p.user_units, p.batch_size) == (500, 500, 50)
    assert (p.dropout_user, p.dropout_session, p.dropout_init) == (0.0, 0.2, 0.2)
    assert (p.learning_rate, p.momentum, p.epochs, p.loss, p.activation) == (0.05, 0.3, 10, "top1", "tanh")
    assert preset("rnn-small").dropout_session == 0.5
    assert preset("hrnn-init-small", loss="cross-entropy").activation == "linear"
    for loss, activation in (("bpr", "tanh"), ("top1-max", "linear"), ("bpr-max", "linear")):
        assert preset("rnn-small", loss=loss).activation == activation  # max losses need unbounded scores
    with pytest.raises(ConfigError):
        preset("hrnn-huge")


def test_config_json_round_trip() -> None:
    cfg = small("hrnn-all", all_mode="input", compat_2017=True)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig.from_json('{"modle": "rnn"}')


def test_log_without_pairs_is_refused() -> None:
    n = 6
    log = SessionLog.from_arrays(np.zeros(n, dtype=int), np.arange(n), np.arange(n), np.arange(n, dtype=float), 1, n)
    with pytest.raises(ConfigError, match="no \\(input, target\\) pair"):
        train(small("hrnn-init"), log)


def test_inputs_moved_in_chunks_give_the_same_losses(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.training import loop

    cfg = small("hrnn-init", dropout_session=0.1)
    whole = train(cfg, patterned_log()).epoch_losses
    monkeypatch.setattr(loop, "CHUNK_STEPS", 3)
    assert train(cfg, patterned_log()).epoch_losses == whole


def test_cpu_training_uses_its_own_thread_count_and_restores_the_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.training import loop

    seen: list[int] = []

    def record_threads(epoch: int, loss: float, seconds: float) -> None:
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(small("rnn", epochs=1), patterned_log(), on_epoch=record_threads)
        assert seen == [1] and torch.get_num_threads() == 2  # 1 while training (the default), then back
        monkeypatch.setenv(loop.TRAINING_THREADS_VARIABLE, "2")
        train(small("rnn", epochs=1), patterned_log(), on_epoch=record_threads)
        assert seen[-1] == 2
        monkeypatch.setenv(loop.TRAINING_THREADS_VARIABLE, "many")
        with pytest.raises(ConfigError, match="HRNN_TRAINING_THREADS"):
            train(small("rnn", epochs=1), patterned_log())
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
