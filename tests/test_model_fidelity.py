"""Numeric points where our models agree with the GRU4Rec / HGRU4Rec reference code and that no
other test pins (see docs/FIDELITY.md): initialisation ranges, inverted dropout, the extra
negatives' distribution, Adagrad's epsilon and dense momentum, the session-parallel refill order.
Expected values are written from the formulas here, never by calling our code a second time."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.models.network import RecurrentNetwork
from engine.models.spec import NetworkSpec
from engine.training.batching import SessionParallelBatcher
from engine.training.config import TrainConfig
from engine.training.optimizer import RowSparseOptimizer
from engine.training.train_step import TrainStep

N_ITEMS, HS, HU, EMB = 40, 16, 8, 12


def _bound(fan_in: int, fan_out: int) -> float:
    """Glorot-uniform bound of one gate's block, as GRU4Rec/HGRU4Rec's init_matrix (sigma = 0)."""
    return math.sqrt(6.0 / (fan_in + fan_out))


@pytest.mark.parametrize("embedding,feed", [(0, "gates"), (EMB, "input")], ids=["one-hot", "embedding"])
def test_initialisation_is_uniform_per_gate_block_with_zero_biases(embedding: int, feed: str) -> None:
    spec = NetworkSpec(N_ITEMS, HS, HU, embedding, feed)
    net = RecurrentNetwork(spec, seed=3)
    expected = {  # parameter -> bound of one gate block [fan_in, fan_out of one gate]
        "session.u_rz": _bound(HS, HS), "session.u_h": _bound(HS, HS),
        "user.w_in": _bound(HS, HU), "user.u_rz": _bound(HU, HU), "user.u_h": _bound(HU, HU),
        "init.w": _bound(HU, HS),
        "session.v_rz" if feed == "gates" else "session.v": _bound(HU, HS),
    }
    if embedding:
        expected["session.w_in"] = _bound(EMB, HS)
    views = net.dense_views()
    tables = {
        "item_in": (net.item_in.data[:N_ITEMS], _bound(N_ITEMS, EMB if embedding else HS)),
        "item_out": (net.item_out.data[:N_ITEMS, :-1], _bound(N_ITEMS, HS)),
    }
    for name, (values, bound) in {**{k: (views[k], b) for k, b in expected.items()}, **tables}.items():
        top = values.abs().max().item()
        # inside the bound, and reaching close to it (a bound from the whole matrix's width is
        # at least 18% smaller for these shapes and fails the lower check)
        assert top <= bound * (1 + 1e-6), name
        assert top >= 0.85 * bound, name
        assert abs(values.mean().item()) < 0.1 * bound, name
    for name, view in views.items():
        if view.dim() == 1:
            assert torch.count_nonzero(view) == 0, name  # every bias starts at zero
        else:
            assert name in expected, name  # every weight matrix is checked above
    assert torch.count_nonzero(net.item_out.data[:, -1]) == 0  # output bias column
    assert torch.count_nonzero(net.item_in.data[N_ITEMS]) == 0  # padding rows
    assert torch.count_nonzero(net.item_out.data[N_ITEMS]) == 0


def _train_step(popularity: list[float], **config) -> TrainStep:
    cfg = TrainConfig(model="rnn", session_units=4, **config)
    net = RecurrentNetwork(cfg.network_spec(len(popularity)), seed=0)
    return TrainStep(cfg, net, np.array(popularity), torch.Generator().manual_seed(5))


def test_dropout_is_inverted() -> None:
    # as the references' dropout(): keep with probability 1 - p and scale kept units by 1 / (1 - p)
    step = _train_step([1.0, 1.0, 1.0], batch_size=2)
    mask = step._dropout_mask(0.25, 400, 16)
    assert mask is not None
    values = torch.unique(mask).tolist()
    assert values == [0.0, pytest.approx(4.0 / 3.0)]
    kept = (mask > 0).float().mean().item()
    assert kept == pytest.approx(0.75, abs=0.02)
    assert mask.mean().item() == pytest.approx(1.0, abs=0.03)
    assert step._dropout_mask(0.0, 4, 16) is None


def test_extra_negatives_are_one_shared_set_drawn_by_popularity_power_alpha() -> None:
    # popularity 1, 4, 9, 0, 16 with alpha 0.5: weights 1, 2, 3, 0, 4 out of 10
    extra = 20000
    step = _train_step([1.0, 4.0, 9.0, 0.0, 16.0], batch_size=2, n_extra_negatives=extra, sample_alpha=0.5)
    targets = torch.tensor([3, 1])
    cols, valid = step._columns(targets, torch.tensor([True, False]))
    # one column set for the whole batch: the B in-batch targets, then the shared extras
    assert cols.shape == (2 + extra,) and torch.equal(cols[:2], targets)
    assert valid.tolist() == [True, False] + [True] * extra
    freq = torch.bincount(cols[2:], minlength=5).double() / extra
    assert freq.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.0, 0.4], abs=0.015)
    assert freq[3].item() == 0.0  # an item without events is never drawn


def test_dense_adagrad_momentum_keeps_epsilon_inside_the_square_root() -> None:
    # GRU4Rec/HGRU4Rec: acc += g^2; v = mu v - lr g / sqrt(acc + 1e-6); p += v. A gradient of
    # 1e-3 makes g^2 equal to epsilon, so epsilon's placement changes the step by about 30%.
    lr, mu = 0.1, 0.5
    dense = torch.tensor([1.0], dtype=torch.float64)
    opt = RowSparseOptimizer("adagrad", lr, mu, dense, [])
    opt.step(torch.tensor([1e-3], dtype=torch.float64), [], [])
    v1 = -lr * 1e-3 / math.sqrt(1e-6 + 1e-6)  # = -0.0707...
    assert dense.item() == pytest.approx(1.0 + v1, abs=1e-9)
    opt.step(torch.tensor([2e-3], dtype=torch.float64), [], [])
    v2 = mu * v1 - lr * 2e-3 / math.sqrt(1e-6 + 4e-6 + 1e-6)
    assert dense.item() == pytest.approx(1.0 + v1 + v2, abs=1e-9)
    assert opt.second[0].item() == pytest.approx(v2, abs=1e-9)  # heavy-ball velocity


def test_session_parallel_refills_free_slots_in_slot_order_like_gru4rec() -> None:
    # five sessions by start time with 1, 1, 2, 1, 1 pairs on three slots. GRU4Rec: A, B, C start;
    # A and B end together, so slot 0 takes D and slot 1 takes E (the lowest slot first).
    lengths = [2, 2, 3, 2, 2]  # events per session: A 0-1, B 2-3, C 4-6, D 7-8, E 9-10
    session = np.repeat(np.arange(5), lengths)
    n = len(session)
    log = SessionLog.from_arrays(np.zeros(n, dtype=np.int64), session, np.arange(n),
                                 np.arange(n, dtype=float), 1, n)
    sched = SessionParallelBatcher(3).schedule(log, np.random.default_rng(0))
    assert sched.pair_input.tolist() == [[0, 2, 4], [7, 9, 5]]
    assert sched.stream_start.tolist() == [[True, True, True], [True, True, False]]
