"""The GRU cell of GRU4Rec and HRNN, one step forward and its hand-written backward.

    r, z   = sigmoid(x_rz + h U_rz)           one bias per gate, inside x (the input projection)
    h_cand = tanh(x_h + (r * h) U_h)          reset gate applied BEFORE the recurrent product
    h_new  = (1 - z) * h_blend + z * h_cand   h_blend = h except in the 2017-compatibility mode

With a recurrent candidate bias ``b_hn`` the cell applies the reset gate AFTER the product instead,
as ``torch.nn.GRUCell`` and the official GRU4Rec PyTorch code do:
``h_cand = tanh(x_h + r * (h U_h + b_hn))``. torch's second bias of the reset and update gates
(``bias_hrz``, trained like the first) is added into ``x`` by the caller, as the first is.
``x`` [B, 3H] holds the gate blocks in the order [r | z | candidate]. Training uses no back-propagation through time, so
``h`` is a constant of the step unless the caller asks for its gradient (session starts of HRNN,
where ``h`` is the output of the initialization network).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class GRUCache(NamedTuple):
    """What the backward pass of one step needs."""

    h_prev: Tensor  # [B, H] state the gates read
    h_blend: Tensor  # [B, H] state the update interpolates from (h_prev unless compatibility)
    rz: Tensor  # [B, 2H] reset and update gates
    recurrent: Tensor  # [B, H] r * h_prev (reset before), or h_prev U_h + b_hn (reset after)
    cand: Tensor  # [B, H] candidate state
    reset_after: bool = False


def gru_forward(
    x: Tensor, h_prev: Tensor, u_rz: Tensor, u_h: Tensor, h_blend: Tensor | None = None,
    b_hn: Tensor | None = None,
) -> tuple[Tensor, GRUCache]:
    """One step. ``x`` [B, 3H] input projection plus biases, ``h_prev`` [B, H], ``u_rz`` [H, 2H],
    ``u_h`` [H, H], ``b_hn`` [H] (reset after the product) or None (before); returns the new state
    [B, H] and the cache for :func:`gru_backward`."""
    units = h_prev.shape[1]
    rz = torch.addmm(x[:, : 2 * units], h_prev, u_rz).sigmoid_()  # [B, 2H]
    if b_hn is None:
        recurrent = rz[:, :units] * h_prev  # [B, H]
        cand = torch.addmm(x[:, 2 * units:], recurrent, u_h).tanh_()  # [B, H]
    else:
        recurrent = torch.addmm(b_hn, h_prev, u_h)  # [B, H]
        cand = torch.addcmul(x[:, 2 * units:], rz[:, :units], recurrent).tanh_()  # [B, H]
    blend = h_prev if h_blend is None else h_blend
    h_new = torch.lerp(blend, cand, rz[:, units:])  # [B, H]
    return h_new, GRUCache(h_prev, blend, rz, recurrent, cand, b_hn is not None)


class GRUGradients(NamedTuple):
    dx: Tensor  # [B, 3H] gradient of the input projection (per-gate bias gradient = its column sum)
    du_rz: Tensor  # [H, 2H]
    du_h: Tensor  # [H, H]
    dh_prev: Tensor | None  # [U, H], for the rows asked for
    db_hn: Tensor | None = None  # [H], the recurrent candidate bias (reset after the product)


def gru_backward(
    dh: Tensor, cache: GRUCache, u_rz: Tensor, u_h: Tensor, dh_prev_rows: Tensor | None = None,
) -> GRUGradients:
    """Gradients of one step given ``dh`` [B, H] = dL/dh_new. With ``dh_prev_rows`` [U] (int64),
    also dL/dh_prev of those rows [U, H]; it includes the path through the interpolation only when
    ``h_blend`` was ``h_prev`` (the corrected model)."""
    units = dh.shape[1]
    rz, cand = cache.rz, cache.cand
    z = rz[:, units:]
    dx = torch.empty(dh.shape[0], 3 * units, dtype=dh.dtype, device=dh.device)  # [B, 3H]
    da_h = dx[:, 2 * units:]
    torch.mul(dh, z, out=da_h)
    da_h.mul_(1.0 - cand * cand)  # through tanh
    da_rz = dx[:, : 2 * units]
    db_hn = None
    if cache.reset_after:
        d_recurrent = da_h * rz[:, :units]  # [B, H] dL/d(h U_h + b_hn)
        torch.mul(da_h, cache.recurrent, out=da_rz[:, :units])  # dL/dr
        du_h = cache.h_prev.T @ d_recurrent
        db_hn = d_recurrent.sum(0)
    else:
        drh = da_h @ u_h.T  # [B, H] dL/d(r * h)
        torch.mul(drh, cache.h_prev, out=da_rz[:, :units])  # dL/dr
        du_h = cache.recurrent.T @ da_h
    torch.mul(dh, cand - cache.h_blend, out=da_rz[:, units:])  # dL/dz
    da_rz.mul_(rz * (1.0 - rz))  # through sigmoid
    du_rz = cache.h_prev.T @ da_rz
    dh_prev = None
    if dh_prev_rows is not None:
        def rows(t: Tensor) -> Tensor:
            return t.index_select(0, dh_prev_rows)

        through_candidate = (rows(d_recurrent) @ u_h.T if cache.reset_after
                             else rows(drh) * rows(rz[:, :units]))  # [U, H]
        dh_prev = torch.addmm(through_candidate, rows(da_rz), u_rz.T)  # [U, H]
        if cache.h_blend is cache.h_prev:
            dh_prev.addcmul_(rows(dh), 1.0 - rows(z))
    return GRUGradients(dx, du_rz, du_h, dh_prev, db_hn)
