"""Semantics of one step of RNN/HRNN (states, flags, user GRU, init network) and its gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.models.network import RecurrentNetwork
from engine.models.spec import NetworkSpec
from engine.models.step import StepInputs, user_rows
from engine.training.batching import UserParallelBatcher
from engine.training.config import TrainConfig
from engine.training.train_step import TrainStep, epoch_tensors
from tests.logs import nested_session_log

torch.set_num_threads(1)
N_ITEMS, HS, HU = 7, 3, 2


def ref_gru(x, h, u_rz, u_h, blend=None, b_hrz=None, b_hn=None):
    """GRU4Rec's cell written straight from the formula; with ``b_hn`` torch.nn.GRUCell's (the
    reset gate after the recurrent product, a second bias ``b_hrz`` of the reset and update gates)."""
    n = h.shape[1]
    gates = x[:, : 2 * n] + (0.0 if b_hrz is None else b_hrz)
    r = torch.sigmoid(gates[:, :n] + h @ u_rz[:, :n])
    z = torch.sigmoid(gates[:, n:] + h @ u_rz[:, n:])
    if b_hn is None:
        cand = torch.tanh(x[:, 2 * n:] + (r * h) @ u_h)
    else:
        cand = torch.tanh(x[:, 2 * n:] + r * (h @ u_h + b_hn))
    return (1 - z) * (h if blend is None else blend) + z * cand


def make_network(user_feed: str = "none", user_units: int = HU, compat: bool = False,
                 embedding: int = 0, seed: int = 0, reset_after: bool = False) -> RecurrentNetwork:
    spec = NetworkSpec(N_ITEMS, HS, user_units, embedding, user_feed, compat, reset_after=reset_after)
    net = RecurrentNetwork(spec, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():  # non-zero biases everywhere, so every term shows in the outputs
        for view in net.dense_views().values():
            if view.dim() == 1:
                view.copy_(torch.randn(view.shape, generator=g) * 0.5)
        net.item_out[:N_ITEMS, -1] = torch.randn(N_ITEMS, generator=g)
    return net


def x_of(net: RecurrentNetwork, items: list[int]) -> torch.Tensor:
    d = net.dense_views()
    rows = net.item_in.data[items]
    if net.spec.embedding_size:
        return rows @ d["session.w_in"] + d["session.bias"]
    return rows + d["session.bias"]


def user_gru(net: RecurrentNetwork, s: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    d = net.dense_views()
    return ref_gru(s @ d["user.w_in"] + d["user.bias"], c, d["user.u_rz"], d["user.u_h"])


def init_net(net: RecurrentNetwork, c: torch.Tensor) -> torch.Tensor:
    d = net.dense_views()
    return torch.tanh(c @ d["init.w"] + d["init.bias"])


def session_gru(net, items, h, blend=None):
    d = net.dense_views()
    return ref_gru(x_of(net, items), h, d["session.u_rz"], d["session.u_h"], blend)


def tiny_log(sessions_per_user: list[list[list[int]]]) -> SessionLog:
    return nested_session_log(sessions_per_user, N_ITEMS)


def run_eval_schedule(net: RecurrentNetwork, log: SessionLog, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Training-time forward (eval mode) over the user-parallel schedule: states after each step."""
    sched = UserParallelBatcher(batch, order="fixed").schedule(log, np.random.default_rng(0))
    ten = epoch_tensors(sched, log, net.spec.pad_item, torch.device("cpu"))
    s, c = net.new_state(batch)
    states = []
    for t in range(sched.n_steps):
        s, c = net.advance(StepInputs(ten.items[t], ten.keep[t], ten.update[t], user_rows(ten.update[t], False)), s, c)
        states.append((s, c))
    return states


def test_hrnn_states_follow_the_paper() -> None:
    net = make_network()
    log = tiny_log([[[1, 2, 3], [4, 5]], [[0, 2]]])
    states = run_eval_schedule(net, log, batch=1)
    assert len(states) == 4  # pairs: 1>2, 2>3 | 4>5 | 0>2
    zero_s, zero_c = torch.zeros(1, HS), torch.zeros(1, HU)
    s0 = session_gru(net, [1], zero_s)  # the user's first session starts from zero
    s1 = session_gru(net, [2], s0)
    assert torch.allclose(states[0][0], s0, atol=1e-6) and torch.equal(states[0][1], zero_c)
    assert torch.allclose(states[1][0], s1, atol=1e-6) and torch.equal(states[1][1], zero_c)
    # next session: c_1 = GRU_usr(state after the second-to-last item "2", c_0 = 0), then init
    c1 = user_gru(net, s1, zero_c)
    s2 = session_gru(net, [4], init_net(net, c1))
    assert torch.allclose(states[2][1], c1, atol=1e-6)
    assert torch.allclose(states[2][0], s2, atol=1e-6)
    # a new user: both states back to zero
    assert torch.equal(states[3][1], zero_c)
    assert torch.allclose(states[3][0], session_gru(net, [0], zero_s), atol=1e-6)


def _one_step(net, items, keep, update, s, c):
    update_f = torch.tensor(update, dtype=torch.float32)[:, None]
    inputs = StepInputs(torch.tensor(items), torch.tensor(keep, dtype=torch.float32)[:, None],
                        update_f, user_rows(update_f, compact=True))
    return net.advance(inputs, s, c)


@pytest.mark.parametrize("feed", ["gates", "input"])
def test_hrnn_all_feeds_user_state_into_every_step(feed: str) -> None:
    net = make_network(feed)
    g = torch.Generator().manual_seed(5)
    s, c = torch.rand(1, HS, generator=g), torch.rand(1, HU, generator=g)
    out, _ = _one_step(net, [3], [1.0], [0.0], s, c)  # mid-session step
    other, _ = _one_step(net, [3], [1.0], [0.0], s, c + 0.5)
    assert not torch.allclose(out, other, atol=1e-4)
    d = net.dense_views()
    x = x_of(net, [3])
    if feed == "gates":
        x = x + torch.cat([c @ d["session.v_rz"], torch.zeros(1, HS)], dim=1)
    else:
        x = x + c @ d["session.v"]
    assert torch.allclose(out, ref_gru(x, s, d["session.u_rz"], d["session.u_h"]), atol=1e-6)


def test_hrnn_init_ignores_user_state_within_a_session() -> None:
    net = make_network("none")
    s, c = torch.rand(1, HS), torch.rand(1, HU)
    out, _ = _one_step(net, [3], [1.0], [0.0], s, c)
    other, _ = _one_step(net, [3], [1.0], [0.0], s, c + 0.5)
    assert torch.equal(out, other)


def test_compat_2017_interpolates_from_the_previous_session_state() -> None:
    net = make_network(compat=True)
    s, c = torch.rand(1, HS), torch.rand(1, HU)
    out, c_new = _one_step(net, [3], [0.0], [1.0], s, c)
    expected = session_gru(net, [3], init_net(net, user_gru(net, s, c)), blend=s)
    assert torch.allclose(out, expected, atol=1e-6)
    fixed = make_network(compat=False)
    out_fixed, _ = _one_step(fixed, [3], [0.0], [1.0], s, c)
    assert not torch.allclose(out, out_fixed, atol=1e-4)
    # a user start: the gates see zero states, but the 2017 update still interpolates from the
    # carried state, the previous user's (the reference reset only the gates' input)
    out, _ = _one_step(net, [3], [0.0], [0.0], s, c)
    expected = session_gru(net, [3], torch.zeros(1, HS), blend=s)
    assert torch.allclose(out, expected, atol=1e-6)
    assert not torch.allclose(out, session_gru(net, [3], torch.zeros(1, HS)), atol=1e-4)


def test_rnn_slot_resets_only_its_own_state() -> None:
    net = make_network(user_units=0)
    s = torch.rand(2, HS)
    out, _ = _one_step(net, [2, 4], [1.0, 0.0], [0.0, 0.0], s, torch.zeros(2, 0))
    assert torch.allclose(out[0], session_gru(net, [2], s[:1])[0], atol=1e-6)
    assert torch.allclose(out[1], session_gru(net, [4], torch.zeros(1, HS))[0], atol=1e-6)


class _Recorder:
    def step(self, dense_grad, rows, row_grads):
        self.dense = dense_grad.clone()
        self.rows = [r.clone() for r in rows]
        self.row_grads = [g.clone() for g in row_grads]


CASES = {
    "hrnn-init": dict(model="hrnn-init"),
    "hrnn-all-gates": dict(model="hrnn-all", all_mode="gates"),
    "hrnn-all-input": dict(model="hrnn-all", all_mode="input"),
    "hrnn-compat": dict(model="hrnn-init", compat_2017=True),
    "rnn": dict(model="rnn"),
    "hrnn-embedding-extra": dict(model="hrnn-all", embedding_size=4, n_extra_negatives=3),
    "rnn-ce-logq": dict(model="rnn", loss="cross-entropy-logq", n_extra_negatives=2),
    "hrnn-all-dropout": dict(model="hrnn-all", dropout_session=0.5, dropout_user=0.5, dropout_init=0.5),
    "hrnn-all-torch-cell": dict(model="hrnn-all", all_mode="gates", reset_gate="after"),
}


def fixed_mask(rows: int, units: int, salt: int) -> torch.Tensor:
    """A deterministic inverted-dropout mask for p = 0.5 (values 0 or 2)."""
    pattern = (torch.arange(rows)[:, None] * 3 + torch.arange(units)[None, :] + salt) % 3 != 0
    return pattern.float() * 2.0


def reference_loss(loss_name: str, y: torch.Tensor, cols: torch.Tensor, active: torch.Tensor,
                   pop: np.ndarray) -> torch.Tensor:
    """The mean over the 5 slots' active rows of TOP1 (tanh scores) or of the log-Q corrected
    cross-entropy over in-batch and extra negatives (columns after the 5 targets), written out."""
    col_valid = torch.cat([active, torch.ones(len(cols) - 5, dtype=torch.bool)])
    losses = []
    for i in range(5):
        if not active[i]:
            continue
        negs = [j for j in range(len(cols)) if j != i and col_valid[j]]
        if loss_name == "top1":
            yt = torch.tanh(y[i])
            losses.append((torch.sigmoid(yt[negs] - yt[i]) + torch.sigmoid(yt[negs] ** 2)).mean())
        else:
            p = torch.tensor(pop / pop.sum(), dtype=torch.float32)
            q = p ** 0.75 / (p ** 0.75).sum()
            clamped = cols.clamp_max(N_ITEMS - 1)
            expected = active.sum() * p[clamped] + (len(cols) - 5) * q[clamped]
            logits = y[i] - expected.log()
            losses.append(-torch.log_softmax(logits[[i] + negs], 0)[0])
    return torch.stack(losses).mean()


@pytest.mark.parametrize("compact", [True, False], ids=["user-rows-compact", "user-rows-static"])
@pytest.mark.parametrize("case", CASES)
def test_training_step_gradients_match_autograd(case: str, compact: bool) -> None:
    settings = dict(dropout_session=0.0) | CASES[case]
    cfg = TrainConfig(session_units=HS, user_units=HU, batch_size=5, **settings)
    spec = cfg.network_spec(N_ITEMS)
    net = make_network(spec.user_feed, spec.user_units, spec.compat_2017, spec.embedding_size,
                       reset_after=spec.reset_after)
    pop = np.arange(1, N_ITEMS + 1, dtype=float)
    step = TrainStep(cfg, net, pop, torch.Generator().manual_seed(0), compact_user_rows=compact)
    rec = _Recorder()
    step.optimizer = rec
    update_slots = torch.tensor([1]) if compact else torch.arange(5)
    masks = {  # per slot; the user level sees the rows it runs on
        "ses": fixed_mask(5, HS, 0), "usr": fixed_mask(5, HU, 1), "init": fixed_mask(5, HS, 2)}
    calls = iter(["ses", "usr", "init", "embedding"])

    def patched_mask(p: float, rows: int, units: int):
        name = next(calls)
        if p == 0.0:
            return None
        return masks[name] if name == "ses" else masks[name][update_slots]

    step._dropout_mask = patched_mask
    dropout = cfg.dropout_session > 0
    g = torch.Generator().manual_seed(9)
    s = torch.rand(5, HS, generator=g) * 2 - 1
    c = torch.rand(5, spec.user_units, generator=g) * 2 - 1
    step.state = (s.clone(), c.clone())
    # slots: continue, session start, user start, idle, continue (duplicate input item 2)
    items = torch.tensor([2, 5, 1, N_ITEMS, 2])
    targets = torch.tensor([3, 6, 2, N_ITEMS, 3])
    keep = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])[:, None]
    update = torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0])[:, None]
    active = torch.tensor([True, True, True, False, True])
    result = step(items, targets, keep, update, active)

    dense = {k: v.clone().requires_grad_(True) for k, v in net.dense_views().items()}
    item_in = net.item_in.data.clone().requires_grad_(True)
    item_out = net.item_out.data.clone().requires_grad_(True)
    upd, kp = update.bool(), keep.bool()
    if spec.hierarchical:
        c_gru = ref_gru(s @ dense["user.w_in"] + dense["user.bias"], c, dense["user.u_rz"], dense["user.u_h"],
                        b_hrz=dense.get("user.bias_hrz"), b_hn=dense.get("user.bias_hn"))
        if dropout:
            c_gru = c_gru * masks["usr"]
        c_new = torch.where(upd, c_gru, torch.where(kp, c, 0.0))
        init = torch.tanh(c_new @ dense["init.w"] + dense["init.bias"])
        if dropout:
            init = init * masks["init"]
        h = torch.where(upd, init, torch.where(kp, s, 0.0))
        blend = s if spec.compat_2017 else None
    else:
        c_new, h, blend = c, torch.where(kp, s, 0.0), None
    rows = item_in[items]
    x = (rows @ dense["session.w_in"] if spec.embedding_size else rows) + dense["session.bias"]
    if spec.user_feed == "gates":
        x = x + torch.cat([c_new @ dense["session.v_rz"], torch.zeros(5, HS)], dim=1)
    elif spec.user_feed == "input":
        x = x + c_new @ dense["session.v"]
    s_new = ref_gru(x, h, dense["session.u_rz"], dense["session.u_h"], blend, dense.get("session.bias_hrz"),
                    dense.get("session.bias_hn"))
    assert spec.reset_after == ("session.bias_hrz" in dense)
    if dropout:
        s_new = s_new * masks["ses"]  # the dropped-out state is carried and scored
        assert torch.allclose(step.state[0], s_new.detach(), atol=1e-6)
    cols = rec.rows[1]
    assert torch.equal(cols[:5], targets)
    w = item_out[cols]
    y = s_new @ w[:, :HS].T + w[:, HS]
    loss = reference_loss(cfg.loss, y, cols, active, pop)
    loss.backward()
    assert result.loss.item() == pytest.approx(loss.item(), abs=1e-5)
    grad_views = net.dense_views(rec.dense)
    for name, ref in dense.items():
        assert torch.allclose(grad_views[name], ref.grad, atol=1e-6), name
    for k, ref_table in enumerate([item_in, item_out]):
        dense_rows = torch.zeros_like(ref_table).index_add_(0, rec.rows[k], rec.row_grads[k])
        assert torch.allclose(dense_rows, ref_table.grad, atol=1e-6), k


def test_slots_switching_users_and_sessions_match_one_slot_runs() -> None:
    """With several slots, each slot's states depend only on its own user's events: switching user
    in one slot (reset) and starting a session in another (user GRU + init) happen side by side."""
    net = make_network("gates")
    log = tiny_log([[[1, 2, 3], [4, 5]], [[0, 2], [6, 1, 3]], [[5, 5, 4]], [[2, 6], [3, 4], [1, 0]]])

    def by_event(batch: int) -> dict[int, torch.Tensor]:
        sched = UserParallelBatcher(batch, order="fixed").schedule(log, np.random.default_rng(0))
        states = run_eval_schedule(net, log, batch)
        return {int(e): torch.cat([states[t][0][b], states[t][1][b]])
                for t in range(sched.n_steps) for b, e in enumerate(sched.pair_input[t]) if e >= 0}

    one, many = by_event(1), by_event(3)
    assert one.keys() == many.keys()
    for event, state in many.items():
        assert torch.allclose(state, one[event], atol=1e-6), event
