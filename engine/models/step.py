"""One step of the recurrent recommenders over B slots: the forward pass and its backward pass.

Per slot, with flags ``keep`` (the slot continues its session) and ``update`` (a new session of
the same user starts; HRNN only), and carried states s [B, Hs] (session) and c [B, Hu] (user):

    HRNN   c' = update * drop_usr(GRU_usr(s, c)) + keep * c       (user start: c' = 0)
           h  = update * drop_init(tanh(c' W_init + b_init)) + keep * s   (user start: h = 0)
    RNN    h  = keep * s                                            (reset at each stream start)
    both   s' = drop_ses(GRU_ses(x, h [, c' in HRNN All]))

With ``compat_2017`` (HRNN), the session GRU's update interpolates from the carried s itself
instead of h, as the 2017 reference code did: the previous session's state at a session start,
and the previous user's at a user start (that code reset only the state the gates read).

Here s, when the user GRU reads it at a session start, is the state after the previous session's
second-to-last item (its last input). The dropped-out states are the carried ones. The flags are
float masks, so a step has no data-dependent branch. The user GRU and the init network run on the
slots ``user_rows``: every slot (static shapes, for CUDA graphs) or only the slots with
``update`` (see :func:`user_rows`; about 1/6 of them, much cheaper on a CPU); both give the same
result. There is no back-propagation through time: s and c coming in are constants, so the
backward pass reaches the user GRU and the init network only through session starts.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from engine.models.gru_cell import GRUCache, gru_backward, gru_forward
from engine.models.spec import NetworkSpec


class StepInputs(NamedTuple):
    items: Tensor  # int64 [B]: input item (the padding row for idle slots)
    keep: Tensor  # float [B, 1]: 1 where the slot continues its session, 0 at a session start
    update: Tensor  # float [B, 1]: 1 at a session start that is not a user's first (HRNN)
    user_rows: Tensor  # int64 [U]: slots the user level runs on (HRNN; see user_rows())


def user_rows(update: Tensor, compact: bool) -> Tensor:
    """int64 [U]: the slots with ``update`` [B, 1] set (``compact``, data-dependent U), or every
    slot (static U = B, as a CUDA graph needs)."""
    if compact:
        return update.squeeze(1).nonzero().squeeze(1)
    return torch.arange(update.shape[0], device=update.device)


class DropoutMasks(NamedTuple):
    """Inverted-dropout masks (0 or 1/(1-p)); ``None`` where that dropout is off."""

    session: Tensor | None  # [B, Hs]
    user: Tensor | None  # [U, Hu], rows of StepInputs.user_rows
    init: Tensor | None  # [U, Hs], rows of StepInputs.user_rows
    embedding: Tensor | None = None  # [B, E]: the item input vectors (embedding or constrained)


class StepCache(NamedTuple):
    inputs: StepInputs
    s_rows: Tensor  # [U, Hs] carried session state of the user rows (input of the user GRU)
    c_new: Tensor  # [B, Hu] user state seen by this step
    init_t: Tensor | None  # [U, Hs] tanh output of the init network
    x_rows: Tensor  # [B, E or 3H] looked-up input rows (after the embedding dropout)
    user: GRUCache | None
    session: GRUCache
    drop: DropoutMasks | None


def _dropped(x: Tensor, mask: Tensor | None) -> Tensor:
    return x if mask is None else x * mask


def forward_step(
    spec: NetworkSpec, dense: dict[str, Tensor], item_inputs: Tensor, inputs: StepInputs,
    s: Tensor, c: Tensor, drop: DropoutMasks | None,
) -> tuple[Tensor, Tensor, StepCache]:
    """New session state s' [B, Hs] (what the output layer sees), new user state c' [B, Hu], and
    the cache for :func:`backward_step`. ``item_inputs``: the table the items' input rows are
    looked up in (``RecurrentNetwork.input_rows``). ``drop=None`` is eval mode."""
    keep, update, rows = inputs.keep, inputs.update, inputs.user_rows
    user_cache, init_t, h_blend, s_rows = None, None, None, s
    if spec.hierarchical:
        s_rows = s.index_select(0, rows)  # [U, Hs]
        update_rows = update.index_select(0, rows)  # [U, 1]
        x_user = torch.addmm(dense["user.bias"], s_rows, dense["user.w_in"])  # [U, 3Hu]
        if "user.bias_hrz" in dense:  # torch's second (recurrent) bias of the gates
            x_user[:, : 2 * spec.user_units] += dense["user.bias_hrz"]
        c_gru, user_cache = gru_forward(x_user, c.index_select(0, rows), dense["user.u_rz"], dense["user.u_h"],
                                        b_hn=dense.get("user.bias_hn"))
        c_new = (c * keep).index_add_(0, rows, _dropped(c_gru, drop and drop.user) * update_rows)  # [B, Hu]
        c_rows = c_new.index_select(0, rows)  # [U, Hu]
        init_t = torch.addmm(dense["init.bias"], c_rows, dense["init.w"]).tanh_()  # [U, Hs]
        h_prev = (s * keep).index_add_(0, rows, _dropped(init_t, drop and drop.init) * update_rows)  # [B, Hs]
        if spec.compat_2017:
            h_blend = s  # the carried state as is: the previous session's, even the previous user's
    else:
        c_new = c
        h_prev = s * keep
    x_rows = _dropped(item_inputs.index_select(0, inputs.items), drop and drop.embedding)  # [B, E or 3H]
    if spec.input_size:
        x = torch.addmm(dense["session.bias"], x_rows, dense["session.w_in"])  # [B, 3H]
    else:
        x = x_rows + dense["session.bias"]
    units = spec.session_units
    if "session.bias_hrz" in dense:  # torch's second (recurrent) bias of the gates
        x[:, : 2 * units] += dense["session.bias_hrz"]
    if spec.user_feed == "gates":
        x[:, : 2 * units].addmm_(c_new, dense["session.v_rz"])
    elif spec.user_feed == "input":
        x.addmm_(c_new, dense["session.v"])
    s_gru, session_cache = gru_forward(x, h_prev, dense["session.u_rz"], dense["session.u_h"], h_blend,
                                       dense.get("session.bias_hn"))
    s_new = _dropped(s_gru, drop and drop.session)
    cache = StepCache(inputs, s_rows, c_new, init_t, x_rows, user_cache, session_cache, drop)
    return s_new, c_new, cache


def backward_step(
    spec: NetworkSpec, dense: dict[str, Tensor], grad: dict[str, Tensor], cache: StepCache,
    ds: Tensor,
) -> Tensor:
    """Back-propagate ``ds`` [B, Hs] = dL/ds' through the step. Writes the dense gradients into
    ``grad`` (views shaped like ``dense``) and returns the gradient of the looked-up input rows
    [B, E or 3H] (row b belongs to ``cache.inputs.items[b]``; duplicates not yet summed)."""
    drop = cache.drop
    rows = cache.inputs.user_rows
    ses = gru_backward(_dropped(ds, drop and drop.session), cache.session, dense["session.u_rz"],
                       dense["session.u_h"], rows if spec.hierarchical else None)
    grad["session.u_rz"].copy_(ses.du_rz)
    grad["session.u_h"].copy_(ses.du_h)
    if ses.db_hn is not None:
        grad["session.bias_hn"].copy_(ses.db_hn)
    torch.sum(ses.dx, 0, out=grad["session.bias"])
    if "session.bias_hrz" in grad:
        torch.sum(ses.dx[:, : 2 * spec.session_units], 0, out=grad["session.bias_hrz"])
    if spec.input_size:
        torch.mm(cache.x_rows.T, ses.dx, out=grad["session.w_in"])
        d_rows = _dropped(ses.dx @ dense["session.w_in"].T, drop and drop.embedding)  # [B, E]
    else:
        d_rows = ses.dx
    if not spec.hierarchical:
        return d_rows
    units = spec.session_units
    update_rows = cache.inputs.update.index_select(0, rows)  # [U, 1]
    assert ses.dh_prev is not None and cache.init_t is not None and cache.user is not None
    d_init = _dropped(ses.dh_prev * update_rows, drop and drop.init)
    d_init.mul_(1.0 - cache.init_t * cache.init_t)  # [U, Hs] through tanh
    c_rows = cache.c_new.index_select(0, rows)  # [U, Hu]
    torch.mm(c_rows.T, d_init, out=grad["init.w"])
    torch.sum(d_init, 0, out=grad["init.bias"])
    dc = d_init @ dense["init.w"].T  # [U, Hu]
    if spec.user_feed == "gates":
        torch.mm(cache.c_new.T, ses.dx[:, : 2 * units], out=grad["session.v_rz"])
        dc.addmm_(ses.dx.index_select(0, rows)[:, : 2 * units], dense["session.v_rz"].T)
    elif spec.user_feed == "input":
        torch.mm(cache.c_new.T, ses.dx, out=grad["session.v"])
        dc.addmm_(ses.dx.index_select(0, rows), dense["session.v"].T)
    dc = _dropped(dc * update_rows, drop and drop.user)  # only where c' is the fresh user-GRU output
    usr = gru_backward(dc, cache.user, dense["user.u_rz"], dense["user.u_h"])
    torch.mm(cache.s_rows.T, usr.dx, out=grad["user.w_in"])
    grad["user.u_rz"].copy_(usr.du_rz)
    grad["user.u_h"].copy_(usr.du_h)
    if usr.db_hn is not None:
        grad["user.bias_hn"].copy_(usr.db_hn)
    torch.sum(usr.dx, 0, out=grad["user.bias"])
    if "user.bias_hrz" in grad:
        torch.sum(usr.dx[:, : 2 * spec.user_units], 0, out=grad["user.bias_hrz"])
    return d_rows
