"""The session GRU cell: reset gate before the recurrent product, one bias per gate."""
from __future__ import annotations

import math

import torch

from engine.models.gru_cell import gru_backward, gru_forward

torch.set_num_threads(1)


def _sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_one_unit_step_matches_hand_computation() -> None:
    # H = 1: x = [x_r, x_z, x_h] (input projection + bias), h = 0.5, U_rz = [0.3, -0.2], U_h = [0.7]
    x = torch.tensor([[0.1, -0.4, 0.2]])
    h = torch.tensor([[0.5]])
    u_rz = torch.tensor([[0.3, -0.2]])
    u_h = torch.tensor([[0.7]])
    r = _sig(0.1 + 0.5 * 0.3)
    z = _sig(-0.4 + 0.5 * -0.2)
    cand = math.tanh(0.2 + (r * 0.5) * 0.7)  # reset applied before the product
    expected = (1 - z) * 0.5 + z * cand
    out, _ = gru_forward(x, h, u_rz, u_h)
    assert abs(out.item() - expected) < 1e-6


def test_differs_from_torch_grucell() -> None:
    g = torch.Generator().manual_seed(0)
    hidden, batch = 4, 3
    cell = torch.nn.GRUCell(hidden, hidden)
    with torch.no_grad():
        cell.bias_hh.zero_()
    inp = torch.randn(batch, hidden, generator=g)
    h = torch.randn(batch, hidden, generator=g)
    w_ir, w_iz, w_in = cell.weight_ih.data.chunk(3)
    w_hr, w_hz, w_hn = cell.weight_hh.data.chunk(3)
    b_r, b_z, b_n = cell.bias_ih.data.chunk(3)
    x = torch.cat([inp @ w_ir.T + b_r, inp @ w_iz.T + b_z, inp @ w_in.T + b_n], dim=1)
    u_rz = torch.cat([w_hr.T, w_hz.T], dim=1)
    ours, _ = gru_forward(x, h, u_rz, w_hn.T.contiguous())
    # torch: h' = (1 - z) * n + z * h  with n = tanh(x_n + r * (h W_hn)); convert z -> 1 - z
    r = torch.sigmoid(x[:, :hidden] + h @ w_hr.T)
    z = torch.sigmoid(x[:, hidden: 2 * hidden] + h @ w_hz.T)
    ours_by_formula = (1 - z) * h + z * torch.tanh(x[:, 2 * hidden:] + (r * h) @ w_hn.T)
    torchs_candidate = (1 - z) * h + z * torch.tanh(x[:, 2 * hidden:] + r * (h @ w_hn.T))
    assert torch.allclose(ours, ours_by_formula, atol=1e-6)
    assert not torch.allclose(ours, torchs_candidate, atol=1e-3)
    with torch.no_grad():
        assert not torch.allclose(ours, cell(inp, h), atol=1e-3)


def test_backward_matches_autograd() -> None:
    g = torch.Generator().manual_seed(1)
    batch, hidden = 5, 3
    x = torch.randn(batch, 3 * hidden, generator=g, requires_grad=True)
    h = torch.randn(batch, hidden, generator=g, requires_grad=True)
    u_rz = torch.randn(hidden, 2 * hidden, generator=g, requires_grad=True)
    u_h = torch.randn(hidden, hidden, generator=g, requires_grad=True)
    out, cache = gru_forward(x, h, u_rz, u_h)
    dh = torch.randn(batch, hidden, generator=g)
    (out * dh).sum().backward()
    with torch.no_grad():
        grads = gru_backward(dh, cache, u_rz, u_h, dh_prev_rows=torch.tensor([4, 1, 2]))
    assert torch.allclose(grads.dx, x.grad, atol=1e-5)
    assert torch.allclose(grads.du_rz, u_rz.grad, atol=1e-5)
    assert torch.allclose(grads.du_h, u_h.grad, atol=1e-5)
    assert grads.dh_prev is not None and torch.allclose(grads.dh_prev, h.grad[[4, 1, 2]], atol=1e-5)


def test_reset_after_the_product_is_torchs_grucell() -> None:
    """With a recurrent candidate bias the cell is torch.nn.GRUCell (the official GRU4Rec PyTorch
    code's cell): the same new state, once the update gate's sign convention is mapped (ours
    interpolates towards the candidate with z, torch towards the old state)."""
    g = torch.Generator().manual_seed(2)
    hidden, batch = 4, 3
    cell = torch.nn.GRUCell(hidden, hidden)
    inp = torch.randn(batch, hidden, generator=g)
    h = torch.randn(batch, hidden, generator=g)
    w_ir, w_iz, w_in = cell.weight_ih.data.chunk(3)
    w_hr, w_hz, w_hn = cell.weight_hh.data.chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.data.chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.data.chunk(3)
    # our z = 1 - torch's z: negate the update gate's pre-activation
    x = torch.cat([inp @ w_ir.T + b_ir + b_hr, -(inp @ w_iz.T + b_iz + b_hz), inp @ w_in.T + b_in], dim=1)
    u_rz = torch.cat([w_hr.T, -w_hz.T], dim=1)
    ours, _ = gru_forward(x, h, u_rz, w_hn.T.contiguous(), b_hn=b_hn)
    with torch.no_grad():
        assert torch.allclose(ours, cell(inp, h), atol=1e-6)


def test_reset_after_backward_matches_autograd() -> None:
    g = torch.Generator().manual_seed(3)
    batch, hidden = 5, 3
    x = torch.randn(batch, 3 * hidden, generator=g, requires_grad=True)
    h = torch.randn(batch, hidden, generator=g, requires_grad=True)
    u_rz = torch.randn(hidden, 2 * hidden, generator=g, requires_grad=True)
    u_h = torch.randn(hidden, hidden, generator=g, requires_grad=True)
    b_hn = torch.randn(hidden, generator=g, requires_grad=True)
    out, cache = gru_forward(x, h, u_rz, u_h, b_hn=b_hn)
    dh = torch.randn(batch, hidden, generator=g)
    (out * dh).sum().backward()
    with torch.no_grad():
        grads = gru_backward(dh, cache, u_rz, u_h, dh_prev_rows=torch.tensor([4, 1, 2]))
    assert torch.allclose(grads.dx, x.grad, atol=1e-5)
    assert torch.allclose(grads.du_rz, u_rz.grad, atol=1e-5)
    assert torch.allclose(grads.du_h, u_h.grad, atol=1e-5)
    assert grads.db_hn is not None and torch.allclose(grads.db_hn, b_hn.grad, atol=1e-5)
    assert grads.dh_prev is not None and torch.allclose(grads.dh_prev, h.grad[[4, 1, 2]], atol=1e-5)
