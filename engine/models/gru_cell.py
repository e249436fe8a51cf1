"""The GRU cell of GRU4Rec and HRNN, one step forward and its hand-written backward.

    r, z   = sigmoid(x_rz + h U_rz)           one bias per gate, inside x (the input projection)
    h_cand = tanh(x_h + (r * h) U_h)          reset gate applied BEFORE the recurrent product
    h_new  = (1 - z) * h_blend + z * h_cand   h_blend = h except in the 2017-compatibility mode

``torch.nn.GRUCell`` differs: it applies the reset gate after the product
(``r * (h W_hn + b_hn)``) and has separate input and recurrent biases. ``x`` [B, 3H] holds the
gate blocks in the order [r | z | candidate]. Training uses no back-propagation through time, so
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
    rh: Tensor  # [B, H] r * h_prev
    cand: Tensor  # [B, H] candidate state


def gru_forward(
    x: Tensor, h_prev: Tensor, u_rz: Tensor, u_h: Tensor, h_blend: Tensor | None = None,
) -> tuple[Tensor, GRUCache]:
    """One step. ``x`` [B, 3H] input projection plus biases, ``h_prev`` [B, H], ``u_rz`` [H, 2H],
    ``u_h`` [H, H]; returns the new state [B, H] and the cache for :func:`gru_backward`."""
    units = h_prev.shape[1]
    rz = torch.addmm(x[:, : 2 * units], h_prev, u_rz).sigmoid_()  # [B, 2H]
    rh = rz[:, :units] * h_prev  # [B, H]
    cand = torch.addmm(x[:, 2 * units:], rh, u_h).tanh_()  # [B, H]
    blend = h_prev if h_blend is None else h_blend
    h_new = torch.lerp(blend, cand, rz[:, units:])  # [B, H]
    return h_new, GRUCache(h_prev, blend, rz, rh, cand)


class GRUGradients(NamedTuple):
    dx: Tensor  # [B, 3H] gradient of the input projection (per-gate bias gradient = its column sum)
    du_rz: Tensor  # [H, 2H]
    du_h: Tensor  # [H, H]
    dh_prev: Tensor | None  # [U, H], for the rows asked for


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
    drh = da_h @ u_h.T  # [B, H]
    da_rz = dx[:, : 2 * units]
    torch.mul(drh, cache.h_prev, out=da_rz[:, :units])  # dL/dr
    torch.mul(dh, cand - cache.h_blend, out=da_rz[:, units:])  # dL/dz
    da_rz.mul_(rz * (1.0 - rz))  # through sigmoid
    du_h = cache.rh.T @ da_h
    du_rz = cache.h_prev.T @ da_rz
    dh_prev = None
    if dh_prev_rows is not None:
        def rows(t: Tensor) -> Tensor:
            return t.index_select(0, dh_prev_rows)

        dh_prev = torch.addmm(rows(drh) * rows(rz[:, :units]), rows(da_rz), u_rz.T)  # [U, H]
        if cache.h_blend is cache.h_prev:
            dh_prev.addcmul_(rows(dh), 1.0 - rows(z))
    return GRUGradients(dx, du_rz, du_h, dh_prev)
