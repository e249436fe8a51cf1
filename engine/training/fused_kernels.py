"""The fused CPU training step: a block of training steps of the recurrent networks in one call of
a kernel compiled by numba (``engine/training/fused_step.py`` prepares the call and falls back to
the step of ``train_step.py`` where it cannot).

It computes what :class:`engine.training.train_step.TrainStep` computes — the forward pass
(``engine/models/step.py``), the sampled output layer, the loss (``engine/models/losses.py``),
the hand-written backward pass and the row-sparse update (``engine/training/optimizer.py``) —
with the element-wise work of each stage in one loop instead of one tensor operation per term.
The matrix products call the BLAS that SciPy ships (``sgemm`` through ``scipy.linalg.cython_blas``,
the BLAS numba's own ``np.dot`` uses), on torch's number of threads (set by the caller). The
element-wise exp, sigmoid and tanh are float32 polynomials that vectorize (``_exp``: within 2 ulp;
a libm call per element does not vectorize). Float32 throughout, as the tensors; results equal the
tensor step's up to float rounding (tests/test_training_fused_step.py). The random draws (dropout
masks as 0/1, extra negatives as uniform numbers) are the tensor step's own, drawn by the caller
from the run's generator in the same order, and passed in; the masks are scaled here.

Compiled once per machine and cached (numba's ``cache=True``: beside this file, or in numba's
user cache directory when this folder is not writable).
"""
from __future__ import annotations

import math
from typing import Any

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import get_cython_function_address, intrinsic

# The BLAS single-precision matrix product, by a symbol name of our own so that cached kernels
# find it again in the next process (a ctypes pointer would make them uncachable).
llvm.add_symbol("hrnn_workbench_sgemm", get_cython_function_address("scipy.linalg.cython_blas", "sgemm"))
_sgemm = types.ExternalFunction("hrnn_workbench_sgemm", types.void(*([types.voidptr] * 13)))

#: Fast-math flags without ``nnan``/``ninf``: a NaN or an infinity must propagate to the loss,
#: where training looks for divergence.
_FAST = {"contract", "reassoc", "nsz", "arcp"}
_JIT: dict[str, Any] = dict(cache=True, fastmath=_FAST, nogil=True, error_model="numpy")

# Positions in the integer settings ``icfg``.
HIER, FEED, COMPAT, TIED, RESET_AFTER, INPUT_SIZE, LOSS, ACT, OPT, MOMENTUM_ON, N_EXTRA, NORM_BATCH, \
    BATCH_SIZE, DROP_S, DROP_U, DROP_I, DROP_E, N_ITEMS, LOGQ_MODE = range(19)
N_ICFG = 19
# Positions in the float settings ``fcfg``.
LR, MOMENTUM, ELU_ALPHA, BPR_MAX_REG, LOGQ_WEIGHT, SAMPLE_ALPHA, SCALE_S, SCALE_U, SCALE_I, SCALE_E = range(10)
N_FCFG = 10
#: The losses the kernel computes, by registry name (others train with the tensor step).
LOSS_CODES = {"top1": 0, "bpr": 1, "cross-entropy": 2, "cross-entropy-logq": 3, "top1-max": 4, "bpr-max": 5}
ACTIVATION_CODES = {"linear": 0, "tanh": 1, "elu": 2}
FEED_CODES = {"none": 0, "gates": 1, "input": 2}
# log-Q correction: none, official GRU4Rec's weighted log counts, expected occurrences
LOGQ_NONE, LOGQ_COUNTS, LOGQ_EXPECTED = range(3)
#: The dense parameters in the order of the ``layout`` rows (offset, rows, columns; 0 rows: absent).
DENSE_NAMES = ("session.u_rz", "session.u_h", "session.bias", "session.w_in", "session.bias_hn",
               "session.v_rz", "session.v", "user.w_in", "user.u_rz", "user.u_h", "user.bias", "init.w",
               "init.bias", "user.bias_hn", "session.bias_hrz", "user.bias_hrz")
S_U_RZ, S_U_H, S_BIAS, S_W_IN, S_B_HN, S_V_RZ, S_V, U_W_IN, U_U_RZ, U_U_H, U_BIAS, I_W, I_BIAS, U_B_HN, S_B_HRZ, \
    U_B_HRZ = range(16)

ADAGRAD_EPS = np.float32(1e-6)
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, np.float32(1e-8)
_TRANSPOSE, _PLAIN = ord("T"), ord("N")


@njit(**_JIT)
def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, ta: bool, tb: bool, beta: float) -> None:
    """``out = op(a) @ op(b) + beta * out`` (``op``: transposed when ``ta``/``tb``) for row-major
    float32 matrices whose rows are contiguous (views of wider arrays allowed)."""
    m, n = out.shape
    k = a.shape[0] if ta else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        if beta == 0.0:
            out[:, :] = 0.0
        return
    ints = np.empty(6, np.int32)
    ints[0], ints[1], ints[2] = n, m, k
    ints[3] = max(b.strides[0] // 4, 1)
    ints[4] = max(a.strides[0] // 4, 1)
    ints[5] = max(out.strides[0] // 4, 1)
    scalars = np.empty(2, np.float32)
    scalars[0], scalars[1] = 1.0, beta
    flags = np.empty(2, np.uint8)
    flags[0] = _TRANSPOSE if tb else _PLAIN
    flags[1] = _TRANSPOSE if ta else _PLAIN
    # column-major BLAS: out^T [n, m] = op(b)^T [n, k] @ op(a)^T [k, m]
    _sgemm(flags.ctypes, flags[1:].ctypes, ints.ctypes, ints[1:].ctypes, ints[2:].ctypes,  # type: ignore[call-overload]
           scalars.ctypes, b.ctypes, ints[3:].ctypes, a.ctypes, ints[4:].ctypes, scalars[1:].ctypes, out.ctypes,
           ints[5:].ctypes)


@njit(**_JIT)
def _view(flat: np.ndarray, layout: np.ndarray, k: int) -> np.ndarray:
    """Parameter ``k`` of the flat vector as a [rows, columns] matrix (a bias: [1, n])."""
    start = layout[k, 0]
    return flat[start: start + layout[k, 1] * layout[k, 2]].reshape((layout[k, 1], layout[k, 2]))


@intrinsic
def _float32_from_bits(typingctx: object, bits: types.Type) -> object:
    """The float32 whose bit pattern is the low 32 bits of the integer ``bits`` (vectorizes, unlike
    a call to ldexp)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context: object, builder: ir.IRBuilder, signature: object, args: list) -> ir.Value:
        value = args[0]
        if bits.bitwidth > 32:  # type: ignore[attr-defined]
            value = builder.trunc(value, ir.IntType(32))
        elif bits.bitwidth < 32:  # type: ignore[attr-defined]
            value = builder.sext(value, ir.IntType(32))
        return builder.bitcast(value, ir.FloatType())

    return types.float32(bits), codegen


_F0, _F1, _F2, _HALF = np.float32(0.0), np.float32(1.0), np.float32(2.0), np.float32(0.5)
_EXP_LO, _EXP_HI = np.float32(-86.0), np.float32(88.72)
_LOG2E, _LN2_HI, _LN2_LO = np.float32(1.44269504), np.float32(0.693359375), np.float32(-2.12194440e-4)
_P0, _P1, _P2 = np.float32(1.9875691500e-4), np.float32(1.3981999507e-3), np.float32(8.3334519073e-3)
_P3, _P4, _P5 = np.float32(4.1665795894e-2), np.float32(1.6666665459e-1), np.float32(5.0000001201e-1)
_INF = np.float32(np.inf)
_L3, _L5, _L7, _L9 = np.float32(1 / 3), np.float32(1 / 5), np.float32(1 / 7), np.float32(1 / 9)
_L11, _L13, _L15 = np.float32(1 / 11), np.float32(1 / 13), np.float32(1 / 15)
_SMALL = np.float32(0.1)  # below it, tanh and expm1 by their series (no cancellation)
_THIRD, _T5 = np.float32(1.0 / 3.0), np.float32(2.0 / 15.0)
_SIXTH, _E4, _E5 = np.float32(1.0 / 6.0), np.float32(1.0 / 24.0), np.float32(1.0 / 120.0)


@njit(inline="always", **_JIT)
def _exp(x: Any) -> Any:
    """float32 exp within about 2 ulp (Cephes' expf polynomial), branch-free so that loops over it
    vectorize (a libm call does not). Below -86 it gives 0 (the exact result is under 5e-38), above
    88.72 infinity, and NaN for NaN."""
    c = min(max(x, _EXP_LO), _EXP_HI)
    t = c * _LOG2E + _HALF
    n = np.int32(t)  # truncation; floor below
    fn = np.float32(n)
    n = n - np.int32(1) if fn > t else n
    fn = np.float32(n)
    r = c - fn * _LN2_HI - fn * _LN2_LO
    p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * (r * r) + r + _F1
    y = p * _float32_from_bits((n + np.int32(126)) << np.int32(23)) * _F2  # type: ignore[call-arg]  # 2^(n-1) * 2: no overflow at n = 128
    y = _F0 if x < _EXP_LO else y
    y = _INF if x > _EXP_HI else y
    return x if x != x else y


@njit(inline="always", **_JIT)
def _sigmoid(x: Any) -> Any:
    return _F1 / (_F1 + _exp(-x))


@njit(inline="always", **_JIT)
def _tanh(x: Any) -> Any:
    """float32 tanh (absolute error about 1e-7), vectorizable."""
    a = abs(x)
    e = _exp(-_F2 * a)
    big = (_F1 - e) / (_F1 + e)
    x2 = x * x
    small = x * (_F1 - x2 * (_THIRD - x2 * _T5))
    y = small if a < _SMALL else (big if x > _F0 else -big)
    return x if x != x else y


@njit(inline="always", **_JIT)
def _log1p_unit(e: Any) -> Any:
    """float32 log(1 + e) for e in [0, 1] (relative error about 1e-7), vectorizable: 2 atanh(s),
    s = e / (2 + e) in [0, 1/3], by its series."""
    t = e / (_F2 + e)
    t2 = t * t
    series = _F1 + t2 * (_L3 + t2 * (_L5 + t2 * (_L7 + t2 * (_L9 + t2 * (_L11 + t2 * (_L13 + t2 * _L15))))))
    return _F2 * t * series


@njit(inline="always", **_JIT)
def _expm1(x: Any) -> Any:
    """float32 exp(x) - 1 (relative error about 1e-7 near 0), vectorizable."""
    small = x * (_F1 + x * (_HALF + x * (_SIXTH + x * (_E4 + x * _E5))))
    return small if abs(x) < _SMALL else _exp(x) - _F1


@njit(**_JIT)
def _gru_forward(x: np.ndarray, h: np.ndarray, u_rz: np.ndarray, u_h: np.ndarray, blend: np.ndarray,
                 b_hn: np.ndarray, reset_after: bool, rz: np.ndarray, rec: np.ndarray, cand: np.ndarray,
                 h_new: np.ndarray) -> None:
    """engine/models/gru_cell.py: gru_forward on the rows of ``h`` [n, H] into rz [n, 2H], rec,
    cand and h_new [n, H]; ``x`` [n, 3H] holds the input projection and the biases."""
    n, units = h.shape
    if n == 0:
        return
    rz[:, :] = x[:, : 2 * units]
    gemm(h, u_rz, rz, False, False, 1.0)
    for i in range(n):
        for j in range(2 * units):
            rz[i, j] = _sigmoid(rz[i, j])
    if reset_after:
        for i in range(n):
            rec[i, :] = b_hn
        gemm(h, u_h, rec, False, False, 1.0)
        for i in range(n):
            for j in range(units):
                cand[i, j] = _tanh(x[i, 2 * units + j] + rz[i, j] * rec[i, j])
    else:
        for i in range(n):
            for j in range(units):
                rec[i, j] = rz[i, j] * h[i, j]
            cand[i, :] = x[i, 2 * units:]
        gemm(rec, u_h, cand, False, False, 1.0)
        for i in range(n):
            for j in range(units):
                cand[i, j] = _tanh(cand[i, j])
    for i in range(n):
        for j in range(units):
            start, end, weight = blend[i, j], cand[i, j], rz[i, units + j]
            h_new[i, j] = (start + weight * (end - start) if abs(weight) < _HALF
                           else end - (end - start) * (_F1 - weight))


@njit(**_JIT)
def _gru_backward(dh: np.ndarray, h: np.ndarray, blend: np.ndarray, blend_is_h: bool, rz: np.ndarray,
                  rec: np.ndarray, cand: np.ndarray, u_rz: np.ndarray, u_h: np.ndarray, reset_after: bool,
                  rows: np.ndarray, n_rows: int, dx: np.ndarray, du_rz: np.ndarray, du_h: np.ndarray,
                  db_hn: np.ndarray, dh_prev: np.ndarray) -> None:
    """engine/models/gru_cell.py: gru_backward. Writes dx [n, 3H], du_rz, du_h, db_hn (reset after)
    and, for ``rows[:n_rows]`` (``n_rows`` >= 0), dh_prev [n_rows, H]."""
    n, units = dh.shape
    if n == 0:
        du_rz[:, :] = 0.0
        du_h[:, :] = 0.0
        if reset_after:
            db_hn[:] = 0.0
        return
    work = np.empty((n, units), np.float32)  # dL/d(r * h) (reset before) or dL/d(h U_h + b_hn) (after)
    for i in range(n):
        for j in range(units):
            z, c = rz[i, units + j], cand[i, j]
            dx[i, 2 * units + j] = dh[i, j] * z * (_F1 - c * c)
    da_h = dx[:, 2 * units:]
    if reset_after:
        for i in range(n):
            for j in range(units):
                work[i, j] = da_h[i, j] * rz[i, j]
                dx[i, j] = da_h[i, j] * rec[i, j]
        gemm(h, work, du_h, True, False, 0.0)
        db_hn[:] = 0.0
        for i in range(n):
            for j in range(units):
                db_hn[j] += work[i, j]
    else:
        gemm(da_h, u_h, work, False, True, 0.0)
        for i in range(n):
            for j in range(units):
                dx[i, j] = work[i, j] * h[i, j]
        gemm(rec, da_h, du_h, True, False, 0.0)
    for i in range(n):
        for j in range(units):
            dx[i, units + j] = dh[i, j] * (cand[i, j] - blend[i, j])
        for j in range(2 * units):
            g = rz[i, j]
            dx[i, j] *= g * (_F1 - g)
    da_rz = dx[:, : 2 * units]
    gemm(h, da_rz, du_rz, True, False, 0.0)
    if n_rows < 0:
        return
    picked_rz = np.empty((n_rows, 2 * units), np.float32)
    for r in range(n_rows):
        i = rows[r]
        picked_rz[r, :] = da_rz[i]
        if reset_after:
            dh_prev[r, :] = 0.0
        else:
            for j in range(units):
                dh_prev[r, j] = work[i, j] * rz[i, j]
    if reset_after:
        picked = np.empty((n_rows, units), np.float32)
        for r in range(n_rows):
            picked[r, :] = work[rows[r]]
        gemm(picked, u_h, dh_prev, False, True, 1.0)
    gemm(picked_rz, u_rz, dh_prev, False, True, 1.0)
    if blend_is_h:
        for r in range(n_rows):
            i = rows[r]
            for j in range(units):
                dh_prev[r, j] += dh[i, j] * (_F1 - rz[i, units + j])


@njit(**_JIT)
def _softmax_over_negatives(y: np.ndarray, neg: np.ndarray, out: np.ndarray) -> None:
    """engine/models/losses.py: _softmax_over, one row ``y`` [C] over its negatives ``neg`` [C]
    (1 on a negative, else 0), into ``out`` [C]."""
    n_cols = y.shape[0]
    top = -_INF
    for j in range(n_cols):
        top = max(top, y[j]) if neg[j] != _F0 else top
    if top == -_INF:
        top = _F0
    total = _F0
    for j in range(n_cols):
        e = _exp(y[j] - top) if neg[j] != _F0 else _F0
        out[j] = e
        total += e
    inv = _F1 / max(total, np.float32(1e-30))
    for j in range(n_cols):
        out[j] *= inv


@njit(**_JIT)
def _loss(code: int, y: np.ndarray, active: np.ndarray, valid: np.ndarray, logq: np.ndarray, use_logq: bool,
          bpr_max_reg: float, dy: np.ndarray) -> tuple[float, float]:
    """engine/models/losses.py: ranking_loss for the loss ``code``: the mean loss over the counted
    rows, their number, and its gradient with respect to ``y`` [B, C] in ``dy``. Row by row, each
    term in one pass over the row's columns (float32, vectorizable)."""
    n_rows, n_cols = y.shape
    n_valid = 0
    for j in range(n_cols):
        if valid[j]:
            n_valid += 1
    counted = 0
    for i in range(n_rows):
        if active[i] and n_valid - (1 if valid[i] else 0) > 0:
            counted += 1
    weight = _F1 / np.float32(max(counted, 1))
    reg_w = np.float32(bpr_max_reg)
    neg = np.empty(n_cols, np.float32)  # the row's negatives: the valid columns but its own
    for j in range(n_cols):
        neg[j] = _F1 if valid[j] else _F0
    s = np.empty(n_cols, np.float32)
    a = np.empty(n_cols, np.float32)
    loss = np.float32(0.0)
    for i in range(n_rows):
        n_neg = n_valid - (1 if valid[i] else 0)
        dyi = dy[i]
        if not (active[i] and n_neg > 0):
            dyi[:] = _F0
            continue
        yi = y[i]
        own = neg[i] if i < n_cols else _F0
        if i < n_cols:
            neg[i] = _F0
        pos = yi[i]
        row = _F0
        diagonal = _F0
        if code == 0:  # TOP1: the mean over the negatives
            w = _F1 / np.float32(n_neg)
            for j in range(n_cols):
                yj = yi[j]
                diff = _sigmoid(yj - pos)
                sq = _sigmoid(yj * yj)
                m = neg[j] * w
                row += (diff + sq) * m
                dyi[j] = m * (diff * (_F1 - diff) + _F2 * yj * sq * (_F1 - sq))
                diagonal += m * diff * (_F1 - diff)
            dyi[i] = -diagonal
        elif code == 1:  # BPR: the mean over the negatives
            w = _F1 / np.float32(n_neg)
            for j in range(n_cols):
                d = yi[j] - pos
                e = _exp(-abs(d))
                g = neg[j] * w
                row += (max(d, _F0) + _log1p_unit(e)) * g  # softplus
                sig = _F1 / (_F1 + e)
                dyi[j] = g * (sig if d >= _F0 else _F1 - sig)
                diagonal += dyi[j]
            dyi[i] = -diagonal
        elif code == 2 or code == 3:  # cross-entropy over the row's valid columns and its own
            top = -_INF
            for j in range(n_cols):
                v = yi[j] - logq[j] if use_logq else yi[j]
                s[j] = v
                top = max(top, v) if (neg[j] != _F0 or j == i) else top
            total = _F0
            for j in range(n_cols):
                e = _exp(s[j] - top) if (neg[j] != _F0 or j == i) else _F0
                a[j] = e
                total += e
            inv = _F1 / total
            for j in range(n_cols):
                dyi[j] = a[j] * inv
            row = -(s[i] - top - np.float32(math.log(total)))
            dyi[i] -= _F1
        elif code == 4:  # TOP1-max
            _softmax_over_negatives(yi, neg, s)
            for j in range(n_cols):
                yj = yi[j]
                diff = _sigmoid(yj - pos)
                sq = _sigmoid(yj * yj)
                a[j] = diff
                dyi[j] = sq  # kept for the second pass
                row += s[j] * (diff + sq)
            for j in range(n_cols):
                yj, diff, sq = yi[j], a[j], dyi[j]
                dyi[j] = s[j] * (diff + sq - row + diff * (_F1 - diff) + _F2 * yj * sq * (_F1 - sq))
                diagonal += s[j] * diff * (_F1 - diff)
            dyi[i] -= diagonal
        else:  # BPR-max
            _softmax_over_negatives(yi, neg, s)
            total = _F0
            reg = _F0
            for j in range(n_cols):
                yj = yi[j]
                aj = _sigmoid(pos - yj)
                a[j] = aj
                total += s[j] * aj
                reg += s[j] * yj * yj
            row = -np.float32(math.log(total + np.float32(1e-24))) + reg_w * reg
            inv = _F1 / (total + np.float32(1e-24))
            for j in range(n_cols):
                yj, aj = yi[j], a[j]
                dyi[j] = -(s[j] * inv) * (aj * aj - total) + reg_w * s[j] * (yj * yj - reg + _F2 * yj)
                diagonal += s[j] * aj * (_F1 - aj) * inv
            dyi[i] -= diagonal
        if i < n_cols:
            neg[i] = own
        loss += row * weight
        for j in range(n_cols):
            dyi[j] *= weight
    return float(loss), float(counted)


@njit(**_JIT)
def _update_rows(table: np.ndarray, idx: np.ndarray, grad: np.ndarray, position: np.ndarray, first: np.ndarray,
                 second: np.ndarray, adam: bool, momentum_on: bool, lr: float, momentum: float,
                 adam_scale: float) -> None:
    """engine/training/optimizer.py: the row-sparse update of ``table`` at rows ``idx`` [n] with
    gradients ``grad`` [n, D]; duplicates summed first (in index order), each row updated once."""
    n, width = grad.shape
    for i in range(n):
        position[idx[i]] = i
    total = np.zeros((n, width), np.float32)
    for i in range(n):
        r = position[idx[i]]  # the last position holding this row represents it
        for j in range(width):
            total[r, j] += grad[i, j]
    lr32, mom32, scale32 = np.float32(lr), np.float32(momentum), np.float32(adam_scale)
    b1, b2 = np.float32(ADAM_BETA1), np.float32(ADAM_BETA2)
    for i in range(n):
        row = idx[i]
        if position[row] != i:
            continue
        for j in range(width):
            g = total[i, j]
            if adam:
                m = first[row, j] * b1 + g * np.float32(1.0 - ADAM_BETA1)
                v = second[row, j] * b2 + np.float32(1.0 - ADAM_BETA2) * g * g
                first[row, j] = m
                second[row, j] = v
                table[row, j] += m / (np.float32(math.sqrt(v)) + ADAM_EPS) * scale32
            else:
                acc = first[row, j] + g * g
                first[row, j] = acc
                step = g / np.float32(math.sqrt(acc + ADAGRAD_EPS))
                if momentum_on:
                    delta = second[row, j] * mom32 - lr32 * step
                    second[row, j] = delta
                else:
                    delta = step * -lr32
                table[row, j] += delta


@njit(**_JIT)
def _update_dense(param: np.ndarray, grad: np.ndarray, first: np.ndarray, second: np.ndarray, adam: bool,
                  momentum_on: bool, lr: float, momentum: float, adam_scale: float) -> None:
    """engine/training/optimizer.py: the dense update, one pass over the flat vector."""
    lr32, mom32, scale32 = np.float32(lr), np.float32(momentum), np.float32(adam_scale)
    b1, b2 = np.float32(ADAM_BETA1), np.float32(ADAM_BETA2)
    for j in range(param.shape[0]):
        g = grad[j]
        if adam:
            m = first[j] * b1 + g * np.float32(1.0 - ADAM_BETA1)
            v = second[j] * b2 + np.float32(1.0 - ADAM_BETA2) * g * g
            first[j] = m
            second[j] = v
            param[j] += m / (np.float32(math.sqrt(v)) + ADAM_EPS) * scale32
        else:
            acc = first[j] + g * g
            first[j] = acc
            step = g / np.float32(math.sqrt(acc + ADAGRAD_EPS))
            if momentum_on:
                v = second[j] * mom32 - lr32 * step
                second[j] = v
                param[j] += v
            else:
                param[j] += -lr32 * step


@njit(**_JIT)
def train_block(icfg: np.ndarray, fcfg: np.ndarray, layout: np.ndarray, items: np.ndarray, targets: np.ndarray,
                keep: np.ndarray, update: np.ndarray, active: np.ndarray, mask_s: np.ndarray, mask_u: np.ndarray,
                mask_i: np.ndarray, mask_e: np.ndarray, extra_u: np.ndarray, item_in: np.ndarray,
                item_out: np.ndarray, dense: np.ndarray, grad: np.ndarray, s: np.ndarray, c: np.ndarray,
                dense_first: np.ndarray, dense_second: np.ndarray, in_first: np.ndarray, in_second: np.ndarray,
                out_first: np.ndarray, out_second: np.ndarray, step_count: np.ndarray, sample_cdf: np.ndarray,
                target_prob: np.ndarray, extra_prob: np.ndarray, log_count: np.ndarray, in_position: np.ndarray,
                out_position: np.ndarray, record: np.ndarray) -> None:
    """Train ``len(record)`` steps: step t reads items, targets, keep, update, active [t, B] and
    the masks (0/1; scaled here) and uniform draws of extra negatives of step t; updates the
    parameters, the optimizer state, the carried states s [B, Hs] and c [B, Hu] in place and
    writes the step's loss and counted rows to ``record[t]``."""
    hier, feed, compat, tied = icfg[HIER] != 0, icfg[FEED], icfg[COMPAT] != 0, icfg[TIED] != 0
    reset_after, in_size, loss_code, act = icfg[RESET_AFTER] != 0, icfg[INPUT_SIZE], icfg[LOSS], icfg[ACT]
    adam, momentum_on, n_extra = icfg[OPT] != 0, icfg[MOMENTUM_ON] != 0, icfg[N_EXTRA]
    lr, momentum, elu_alpha = fcfg[LR], fcfg[MOMENTUM], np.float32(fcfg[ELU_ALPHA])
    batch, hs, hu = s.shape[0], s.shape[1], c.shape[1]
    n_cols = batch + n_extra
    n_items = icfg[N_ITEMS]
    scale_s, scale_u = np.float32(fcfg[SCALE_S]), np.float32(fcfg[SCALE_U])
    scale_i, scale_e = np.float32(fcfg[SCALE_I]), np.float32(fcfg[SCALE_E])
    u_rz, u_h = _view(dense, layout, S_U_RZ), _view(dense, layout, S_U_H)
    s_bias, w_in, s_b_hn = _view(dense, layout, S_BIAS)[0], _view(dense, layout, S_W_IN), _view(dense, layout, S_B_HN)
    v_rz, v_all = _view(dense, layout, S_V_RZ), _view(dense, layout, S_V)
    uw_in, uu_rz, uu_h = _view(dense, layout, U_W_IN), _view(dense, layout, U_U_RZ), _view(dense, layout, U_U_H)
    u_bias, i_w, i_bias = _view(dense, layout, U_BIAS), _view(dense, layout, I_W), _view(dense, layout, I_BIAS)
    u_b_hn = _view(dense, layout, U_B_HN)
    s_b_hrz, u_b_hrz = _view(dense, layout, S_B_HRZ), _view(dense, layout, U_B_HRZ)
    g_u_rz, g_u_h, g_s_bias = _view(grad, layout, S_U_RZ), _view(grad, layout, S_U_H), _view(grad, layout, S_BIAS)
    g_w_in, g_s_b_hn = _view(grad, layout, S_W_IN), _view(grad, layout, S_B_HN)
    g_v_rz, g_v_all = _view(grad, layout, S_V_RZ), _view(grad, layout, S_V)
    g_uw_in, g_uu_rz, g_uu_h = _view(grad, layout, U_W_IN), _view(grad, layout, U_U_RZ), _view(grad, layout, U_U_H)
    g_u_bias, g_i_w, g_i_bias = _view(grad, layout, U_BIAS), _view(grad, layout, I_W), _view(grad, layout, I_BIAS)
    g_u_b_hn, g_s_b_hrz = _view(grad, layout, U_B_HN), _view(grad, layout, S_B_HRZ)
    g_u_b_hrz = _view(grad, layout, U_B_HRZ)
    in_width = in_size if in_size else 3 * hs
    # scratch, reused by every step of the block
    rows = np.empty(batch, np.int64)
    s_rows = np.empty((batch, hs), np.float32)
    c_prev = np.empty((batch, hu), np.float32)
    x_user = np.empty((batch, 3 * hu), np.float32)
    rz_u = np.empty((batch, 2 * hu), np.float32)
    rec_u = np.empty((batch, hu), np.float32)
    cand_u = np.empty((batch, hu), np.float32)
    c_gru = np.empty((batch, hu), np.float32)
    c_new = np.empty((batch, hu), np.float32)
    c_rows = np.empty((batch, hu), np.float32)
    init_t = np.empty((batch, hs), np.float32)
    h_prev = np.empty((batch, hs), np.float32)
    x_rows = np.empty((batch, in_width), np.float32)
    x = np.empty((batch, 3 * hs), np.float32)
    rz = np.empty((batch, 2 * hs), np.float32)
    rec = np.empty((batch, hs), np.float32)
    cand = np.empty((batch, hs), np.float32)
    s_gru = np.empty((batch, hs), np.float32)
    s_new = np.empty((batch, hs), np.float32)
    cols = np.empty(n_cols, np.int64)
    valid = np.empty(n_cols, np.bool_)
    w_cols = np.empty((n_cols, hs + 1), np.float32)
    logits = np.empty((batch, n_cols), np.float32)
    y = np.empty((batch, n_cols), np.float32)
    logq = np.zeros(n_cols, np.float32)
    dy = np.empty((batch, n_cols), np.float32)
    g_out = np.empty((n_cols, hs + 1), np.float32)
    col_sum = np.empty(n_cols, np.float32)
    ds = np.empty((batch, hs), np.float32)
    dx = np.empty((batch, 3 * hs), np.float32)
    dh_prev = np.empty((batch, hs), np.float32)
    d_rows = np.empty((batch, in_width), np.float32)
    d_init = np.empty((batch, hs), np.float32)
    dc = np.empty((batch, hu), np.float32)
    dx_u = np.empty((batch, 3 * hu), np.float32)
    picked = np.empty((batch, 3 * hs), np.float32)
    no_rows = np.empty(0, np.int64)
    empty2 = np.empty((0, 0), np.float32)
    tied_rows = np.empty(batch + n_cols, np.int64)
    tied_grad = np.empty((batch + n_cols, hs + 1), np.float32)
    input_table = item_out[:, :hs] if tied else item_in

    for t in range(record.shape[0]):
        step_count[0] += 1.0
        adam_scale = 0.0
        if adam:
            n_step = step_count[0]
            adam_scale = float(np.float32(-lr * math.sqrt(1.0 - ADAM_BETA2 ** n_step) / (1.0 - ADAM_BETA1 ** n_step)))
        # ---- forward (engine/models/step.py: forward_step)
        n_rows = 0
        if hier:
            for b in range(batch):
                if update[t, b] != 0.0:
                    rows[n_rows] = b
                    n_rows += 1
        if hier:
            for r in range(n_rows):
                s_rows[r, :] = s[rows[r]]
                c_prev[r, :] = c[rows[r]]
                x_user[r, :] = u_bias[0]
                if reset_after:
                    x_user[r, : 2 * hu] += u_b_hrz[0]
            gemm(s_rows[:n_rows], uw_in, x_user[:n_rows], False, False, 1.0)
            _gru_forward(x_user[:n_rows], c_prev[:n_rows], uu_rz, uu_h, c_prev[:n_rows], u_b_hn[0] if reset_after
                         else u_b_hn.ravel(), reset_after, rz_u[:n_rows], rec_u[:n_rows], cand_u[:n_rows],
                         c_gru[:n_rows])
            for b in range(batch):
                for j in range(hu):
                    c_new[b, j] = c[b, j] * keep[t, b]
            for r in range(n_rows):
                b = rows[r]
                for j in range(hu):
                    v = c_gru[r, j] * (mask_u[t, r, j] * scale_u) if icfg[DROP_U] else c_gru[r, j]
                    c_new[b, j] += v * update[t, b]
            for r in range(n_rows):
                c_rows[r, :] = c_new[rows[r]]
                init_t[r, :] = i_bias[0]
            gemm(c_rows[:n_rows], i_w, init_t[:n_rows], False, False, 1.0)
            for r in range(n_rows):
                for j in range(hs):
                    init_t[r, j] = _tanh(init_t[r, j])
            for b in range(batch):
                for j in range(hs):
                    h_prev[b, j] = s[b, j] * keep[t, b]
            for r in range(n_rows):
                b = rows[r]
                for j in range(hs):
                    v = init_t[r, j] * (mask_i[t, r, j] * scale_i) if icfg[DROP_I] else init_t[r, j]
                    h_prev[b, j] += v * update[t, b]
        else:
            for b in range(batch):
                for j in range(hs):
                    h_prev[b, j] = s[b, j] * keep[t, b]
        for b in range(batch):
            source = input_table[items[t, b]]
            if icfg[DROP_E]:
                for j in range(in_width):
                    x_rows[b, j] = source[j] * (mask_e[t, b, j] * scale_e)
            else:
                x_rows[b, :] = source
        for b in range(batch):
            if in_size:
                x[b, :] = s_bias
            else:
                for j in range(3 * hs):
                    x[b, j] = x_rows[b, j] + s_bias[j]
            if reset_after:
                x[b, : 2 * hs] += s_b_hrz[0]
        if in_size:
            gemm(x_rows, w_in, x, False, False, 1.0)
        if feed == 1:
            gemm(c_new if hier else c, v_rz, x[:, : 2 * hs], False, False, 1.0)
        elif feed == 2:
            gemm(c_new if hier else c, v_all, x, False, False, 1.0)
        blend = s if (hier and compat) else h_prev
        _gru_forward(x, h_prev, u_rz, u_h, blend, s_b_hn[0] if reset_after else s_b_hn.ravel(), reset_after, rz,
                     rec, cand, s_gru)
        for b in range(batch):
            for j in range(hs):
                s_new[b, j] = s_gru[b, j] * (mask_s[t, b, j] * scale_s) if icfg[DROP_S] else s_gru[b, j]
        # ---- output layer and loss (engine/training/train_step.py)
        for b in range(batch):
            cols[b] = targets[t, b]
            valid[b] = active[t, b]
        for e in range(n_extra):
            cols[batch + e] = min(np.searchsorted(sample_cdf, extra_u[t, e]), n_items - 1)
            valid[batch + e] = True
        for j in range(n_cols):
            w_cols[j, :] = item_out[cols[j]]
        for j in range(n_cols):
            col_sum[j] = w_cols[j, hs]  # the columns' output biases, contiguous
        for b in range(batch):
            logits[b, :] = col_sum
        gemm(s_new, w_cols[:, :hs], logits, False, True, 1.0)
        if act == 1:  # one loop per activation: no branch in the loop, so that it vectorizes
            for b in range(batch):
                for j in range(n_cols):
                    y[b, j] = _tanh(logits[b, j])
        elif act == 2:
            for b in range(batch):
                for j in range(n_cols):
                    v = logits[b, j]
                    y[b, j] = v if v > _F0 else elu_alpha * _expm1(v)
        else:
            y[:, :] = logits
        use_logq = icfg[LOGQ_MODE] != LOGQ_NONE
        if icfg[LOGQ_MODE] == LOGQ_COUNTS:
            for j in range(n_cols):
                v = log_count[cols[j]]
                if j >= batch:
                    v = v * np.float32(fcfg[SAMPLE_ALPHA])
                logq[j] = v * np.float32(fcfg[LOGQ_WEIGHT])
        elif icfg[LOGQ_MODE] == LOGQ_EXPECTED:
            n_active = 0
            for b in range(batch):
                if active[t, b]:
                    n_active += 1
            for j in range(n_cols):
                expected = np.float32(n_active) * target_prob[cols[j]] + np.float32(n_extra) * extra_prob[cols[j]]
                logq[j] = math.log(max(expected, np.float32(1e-30)))
        loss, counted = _loss(loss_code, y, active[t], valid, logq, use_logq, fcfg[BPR_MAX_REG], dy)
        if icfg[NORM_BATCH]:
            share = np.float32(counted) / np.float32(icfg[BATCH_SIZE])
            loss = loss * share
            for b in range(batch):
                for j in range(n_cols):
                    dy[b, j] *= share
        record[t, 0] = loss
        record[t, 1] = counted
        if act == 1:
            for b in range(batch):
                for j in range(n_cols):
                    dy[b, j] *= _F1 - y[b, j] * y[b, j]
        elif act == 2:
            for b in range(batch):
                for j in range(n_cols):
                    dy[b, j] *= _F1 if logits[b, j] > _F0 else y[b, j] + elu_alpha
        gemm(dy, s_new, g_out[:, :hs], True, False, 0.0)
        col_sum[:] = 0.0  # the output biases' gradient: column sums of dy (contiguous, then one strided copy)
        for b in range(batch):
            for j in range(n_cols):
                col_sum[j] += dy[b, j]
        for j in range(n_cols):
            g_out[j, hs] = col_sum[j]
        gemm(dy, w_cols[:, :hs], ds, False, False, 0.0)
        # ---- backward (engine/models/step.py: backward_step)
        if icfg[DROP_S]:
            for b in range(batch):
                for j in range(hs):
                    ds[b, j] *= mask_s[t, b, j] * scale_s
        _gru_backward(ds, h_prev, blend, not (hier and compat), rz, rec, cand, u_rz, u_h, reset_after, rows,
                      n_rows if hier else -1, dx, g_u_rz, g_u_h, g_s_b_hn[0] if reset_after else g_s_b_hn.ravel(),
                      dh_prev)
        g_s_bias[0, :] = 0.0
        for b in range(batch):
            for j in range(3 * hs):
                g_s_bias[0, j] += dx[b, j]
        if reset_after:
            g_s_b_hrz[0, :] = g_s_bias[0, : 2 * hs]
        if in_size:
            gemm(x_rows, dx, g_w_in, True, False, 0.0)
            gemm(dx, w_in, d_rows, False, True, 0.0)
            if icfg[DROP_E]:
                for b in range(batch):
                    for j in range(in_size):
                        d_rows[b, j] *= mask_e[t, b, j] * scale_e
        else:
            d_rows[:, :] = dx
        if hier:
            for r in range(n_rows):
                b = rows[r]
                for j in range(hs):
                    v = dh_prev[r, j] * update[t, b]
                    if icfg[DROP_I]:
                        v *= mask_i[t, r, j] * scale_i
                    it = init_t[r, j]
                    d_init[r, j] = v * (_F1 - it * it)
            gemm(c_rows[:n_rows], d_init[:n_rows], g_i_w, True, False, 0.0)
            g_i_bias[0, :] = 0.0
            for r in range(n_rows):
                for j in range(hs):
                    g_i_bias[0, j] += d_init[r, j]
            gemm(d_init[:n_rows], i_w, dc[:n_rows], False, True, 0.0)
            if feed == 1:
                gemm(c_new, dx[:, : 2 * hs], g_v_rz, True, False, 0.0)
                for r in range(n_rows):
                    picked[r, : 2 * hs] = dx[rows[r], : 2 * hs]
                gemm(picked[:n_rows, : 2 * hs], v_rz, dc[:n_rows], False, True, 1.0)
            elif feed == 2:
                gemm(c_new, dx, g_v_all, True, False, 0.0)
                for r in range(n_rows):
                    picked[r, :] = dx[rows[r]]
                gemm(picked[:n_rows], v_all, dc[:n_rows], False, True, 1.0)
            for r in range(n_rows):
                b = rows[r]
                for j in range(hu):
                    v = dc[r, j] * update[t, b]
                    dc[r, j] = v * (mask_u[t, r, j] * scale_u) if icfg[DROP_U] else v
            _gru_backward(dc[:n_rows], c_prev[:n_rows], c_prev[:n_rows], True, rz_u[:n_rows], rec_u[:n_rows],
                          cand_u[:n_rows], uu_rz, uu_h, reset_after, no_rows, -1, dx_u[:n_rows], g_uu_rz, g_uu_h,
                          g_u_b_hn[0] if reset_after else g_u_b_hn.ravel(), empty2)
            gemm(s_rows[:n_rows], dx_u[:n_rows], g_uw_in, True, False, 0.0)
            g_u_bias[0, :] = 0.0
            for r in range(n_rows):
                for j in range(3 * hu):
                    g_u_bias[0, j] += dx_u[r, j]
            if reset_after:
                g_u_b_hrz[0, :] = g_u_bias[0, : 2 * hu]
        # ---- update (engine/training/optimizer.py)
        _update_dense(dense, grad, dense_first, dense_second, adam, momentum_on, lr, momentum, adam_scale)
        if tied:
            for b in range(batch):
                tied_rows[b] = items[t, b]
                tied_grad[b, :hs] = d_rows[b, :hs]
                tied_grad[b, hs] = 0.0
            for j in range(n_cols):
                tied_rows[batch + j] = cols[j]
                tied_grad[batch + j, :] = g_out[j]
            _update_rows(item_out, tied_rows, tied_grad, out_position, out_first, out_second, adam, momentum_on, lr,
                         momentum, adam_scale)
        else:
            _update_rows(item_in, items[t], d_rows, in_position, in_first, in_second, adam, momentum_on, lr, momentum,
                         adam_scale)
            _update_rows(item_out, cols, g_out, out_position, out_first, out_second, adam, momentum_on, lr, momentum,
                         adam_scale)
        s[:, :] = s_new
        if hier:
            c[:, :] = c_new
