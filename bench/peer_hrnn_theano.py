"""One timed epoch of the HRNN authors' Theano code (mquad/hgru4rec), run by bench_fused_step.py in its own
interpreter (Theano 1.0.5 wants numpy < 1.24, the project has numpy 2):

    python peer_hrnn_theano.py DIR LOG.npz

DIR holds ``hgru4rec.py``; LOG.npz the arrays UserId, SessionId, ItemId, Time. The settings are preset
``hrnn-init-small`` (the paper's small HRNN Init on XING): 100 session and 100 user units, batch 50, Adagrad
with learning rate 0.1 and no momentum, dropout 0.0 user / 0.1 session / 0.0 init, TOP1 over a tanh output,
no extra negatives, the user state initializing the session state. Prints one JSON line: ``wall`` and ``cpu``
are ``fit`` for one epoch (data preparation, network set-up, the epoch) less the two ``theano.function``
calls inside it, which are ``compile_wall`` and ``compile_cpu`` (graph optimization and linking; the C
modules come from Theano's disk cache, filled by a first ``fit`` on the first 60 users, ``warmup_wall``).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
# numpy >= 1.22 has no blas_opt_info for Theano's BLAS probe: an empty blas.ldflags makes Theano's C ops call
# numpy's BLAS through the NumPy C-API (numpy's own OpenBLAS, ILP64 with suffixed symbols, cannot be linked)
_FLAGS = (f"device=cpu,floatX=float32,blas.ldflags=,"
          f"base_compiledir={os.path.join(tempfile.gettempdir(), 'peers', 'theano-cache')}")
os.environ["THEANO_FLAGS"] = ",".join(filter(None, (_FLAGS, os.environ.get("THEANO_FLAGS"))))  # the caller's win

import numpy as np  # noqa: E402 - after the thread and Theano settings
import pandas as pd  # noqa: E402

SETTINGS = dict(n_epochs=1, batch_size=50, learning_rate=0.1, momentum=0.0, adapt="adagrad",
                dropout_p_hidden_usr=0.0, dropout_p_hidden_ses=0.1, dropout_p_init=0.0, loss="top1",
                final_act="tanh", hidden_act="tanh", n_sample=0, user_propagation_mode="init",
                user_to_output=False, user_to_session_act="tanh")


def timed_fit(module, data: pd.DataFrame) -> dict[str, float]:
    compiled = [0.0, 0.0]
    function = module.function

    def timed_function(*args, **kwargs):  # theano.function as the module calls it, its time kept apart
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            compiled[0] += time.perf_counter() - started
            compiled[1] += time.process_time() - cpu

    module.function = timed_function
    try:
        model = module.HGRU4Rec([100], [100], **SETTINGS)
        started, cpu = time.perf_counter(), time.process_time()
        model.fit(data)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        module.function = function
    if model.error_during_train:
        raise RuntimeError("NaN cost in training")
    return {"wall": wall - compiled[0], "cpu": cpu - compiled[1], "compile_wall": compiled[0],
            "compile_cpu": compiled[1], "fit_wall": wall, "fit_cpu": cpu}


def main() -> None:
    folder, path = sys.argv[1:3]
    sys.path.insert(0, folder)
    import hgru4rec  # the authors' module (it sets logging to INFO: its epoch line goes to stderr)

    with np.load(path) as arrays:
        data = pd.DataFrame({key: arrays[key] for key in ("UserId", "SessionId", "ItemId", "Time")})
    warmup = data[data.UserId.isin(np.unique(data.UserId)[:60])].reset_index(drop=True)
    started = time.perf_counter()
    timed_fit(hgru4rec, warmup)  # compiles the C modules into the disk cache
    warmup_wall = time.perf_counter() - started
    result = timed_fit(hgru4rec, data)
    result["warmup_wall"] = warmup_wall
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
