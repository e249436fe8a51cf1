"""Seconds per training epoch on one thread: the fused CPU step against the tensor step, interleaved
in one run, and optionally against the peers' own code.

    OMP_WAIT_POLICY=PASSIVE python bench/bench_fused_step.py [--users 6800] [--items 58000] [--repeats 2]
        [--models rnn-small hrnn-init-small ...] [--gru4rec-pytorch DIR]
        [--hrnn-theano DIR --hrnn-theano-python PYTHON]

The log is bench_training.py's synthetic XING-sized log (6,800 users, 5-20 sessions of 3-10 events,
58k items with Zipf-like popularity; about 550k events). Each figure is one epoch through
``train()`` (epochs=1; the epoch's schedule and input tensors included, the same for both steps),
the best of ``--repeats`` rounds; a round runs every model fused then tensor, and the next round
the whole list backwards, so that both steps see the same load.

Peers (nothing is fetched: pass the folder of a checkout, or they are skipped with a message):
``--gru4rec-pytorch DIR`` holds ``gru4rec_pytorch.py`` of hidasib/GRU4Rec_PyTorch_Official, timed
with its own ``fit`` for one epoch (its data preparation included) in the recipe of preset
``rnn-gru4rec-official`` (BPR-max, ELU 0.5, 2048 negatives, tied embedding, batch 100, 100 units);
``--hrnn-theano DIR`` holds ``hgru4rec.py`` of mquad/hgru4rec (Theano), timed with its ``fit`` for one
epoch in the paper's small HRNN Init setting (preset ``hrnn-init-small``). Theano 1.0.5 needs numpy < 1.24,
so it runs in its own interpreter, ``--hrnn-theano-python PYTHON`` (a venv with ``Theano==1.0.5
"numpy<1.24" "scipy<1.11" "pandas<2"``), through ``peer_hrnn_theano.py`` on the log saved once to a
temporary .npz; its figure is ``fit`` less the graph compilation inside it (``theano.function``: graph
optimization and linking, after a first ``fit`` on 60 users has filled Theano's C module cache), which is
printed apart. Each peer runs in the same round as ours, on one thread.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from bench_training import synthetic_log

from engine.data.session_log import SessionLog
from engine.training.fused_step import FUSED_STEP_VARIABLE
from engine.training.loop import train
from engine.training.presets import preset

DEFAULT_MODELS = ["rnn-small", "rnn-gru4rec-official", "rnn-concat-small", "hrnn-init-small", "hrnn-all-small"]


Timing = tuple[float, float]  # wall seconds, CPU seconds of this process


def ours(name: str, log: SessionLog, fused: bool) -> Callable[[], Timing]:
    config = dataclasses.replace(preset(name, device="cpu"), epochs=1)

    def epoch() -> Timing:
        os.environ[FUSED_STEP_VARIABLE] = "1" if fused else "0"
        cpu = time.process_time()
        wall = train(config, log).epoch_seconds[0]
        return wall, time.process_time() - cpu  # CPU: the whole train() call (network set-up included)

    return epoch


def _frame(log: SessionLog):  # pandas, as the peers read their training data
    import pandas as pd

    return pd.DataFrame({"UserId": log.user, "SessionId": log.session, "ItemId": log.item, "Time": log.time})


def gru4rec_pytorch(folder: str, log: SessionLog) -> Callable[[], Timing]:
    sys.path.insert(0, folder)
    from gru4rec_pytorch import GRU4Rec  # type: ignore[import-not-found]

    data = _frame(log)

    def epoch() -> Timing:
        model = GRU4Rec(layers=[100], loss="bpr-max", batch_size=100, dropout_p_embed=0.0, dropout_p_hidden=0.0,
                        learning_rate=0.05, momentum=0.0, sample_alpha=0.5, n_sample=2048, embedding=0,
                        constrained_embedding=True, n_epochs=1, bpreg=1.0, elu_param=0.5, logq=0.0,
                        device=torch.device("cpu"))
        printed = io.StringIO()
        started, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(printed):
            model.fit(data)
        timing = time.perf_counter() - started, time.process_time() - cpu
        own = re.search(r"Epoch1 -->.*\(([0-9.]+)s\)", printed.getvalue())  # its own clock: the epoch's loop alone
        print(f"    GRU4Rec PyTorch fit {timing[0]:.2f} s wall (its data preparation and its store of 10M negative "
              f"samples included); its own epoch clock {own.group(1) if own else '?'} s", flush=True)
        return timing

    return epoch


def hrnn_theano(folder: str, log: SessionLog, python: str) -> Callable[[], Timing]:
    """The authors' Theano code in its own interpreter (``python``), by peer_hrnn_theano.py on the log saved
    once to a temporary .npz; the settings are in that script."""
    if not (Path(python).is_file() or shutil.which(python)):
        raise FileNotFoundError(f"no interpreter {python!r}")
    workdir = tempfile.TemporaryDirectory(prefix="hrnn-theano-")  # removed with the closure
    path = Path(workdir.name) / "log.npz"
    np.savez(path, UserId=log.user, SessionId=log.session, ItemId=log.item, Time=log.time)
    runner = Path(__file__).resolve().parent / "peer_hrnn_theano.py"

    def epoch() -> Timing:
        done = subprocess.run([python, str(runner), str(Path(folder).resolve()), str(path)], capture_output=True,
                              text=True, check=False, cwd=workdir.name)  # stray files go to the temporary folder
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-2000:]}")
        result = json.loads(lines[-1])
        print(f"    HRNN Theano fit {result['fit_wall']:.2f} s wall {result['fit_cpu']:.2f} s CPU, less its graph "
              f"compilation {result['compile_wall']:.2f} s wall {result['compile_cpu']:.2f} s CPU "
              f"(warm-up fit on 60 users {result['warmup_wall']:.2f} s)", flush=True)
        return result["wall"], result["cpu"]

    return epoch


def peer_runs(args: argparse.Namespace, log: SessionLog) -> dict[str, Callable[[], Timing]]:
    """The peers whose code is given; one that is not, or does not load, is skipped with a message."""
    runs: dict[str, Callable[[], Timing]] = {}
    theano_peer = functools.partial(hrnn_theano, python=args.hrnn_theano_python)
    for label, folder, make, file in (("GRU4Rec PyTorch (official)", args.gru4rec_pytorch, gru4rec_pytorch,
                                       "gru4rec_pytorch.py"),
                                      ("HRNN Theano (authors)", args.hrnn_theano, theano_peer, "hgru4rec.py")):
        if not folder or not (Path(folder) / file).is_file():
            print(f"skipped {label}: no {file} in {folder!r}" if folder else f"skipped {label}: no folder given "
                  f"(--{'gru4rec-pytorch' if 'PyTorch' in label else 'hrnn-theano'} DIR)")
            continue
        if make is theano_peer and not args.hrnn_theano_python:
            print(f"skipped {label}: no interpreter given (--hrnn-theano-python PYTHON: a Python with Theano 1.0.5 "
                  "and numpy < 1.24, pandas < 2)")
            continue
        try:
            runs[label] = make(folder, log)
        except Exception as exc:  # noqa: BLE001 - a peer that does not load is reported, the rest runs
            print(f"skipped {label}: {type(exc).__name__}: {exc}")
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6800)
    parser.add_argument("--items", type=int, default=58000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--gru4rec-pytorch", metavar="DIR", help="folder with gru4rec_pytorch.py (official code)")
    parser.add_argument("--hrnn-theano", metavar="DIR", help="folder with hgru4rec.py (the authors' Theano code)")
    parser.add_argument("--hrnn-theano-python", metavar="PYTHON",
                        help="interpreter with Theano 1.0.5 (numpy < 1.24) that runs the Theano code")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = synthetic_log(args.users, args.items, args.seed)
    print(f"log: {log.n_events:,} events, {log.n_sessions:,} sessions, {log.n_users:,} users, {log.n_items:,} items; "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}", flush=True)

    runs: dict[str, Callable[[], Timing]] = {}
    for name in args.models:
        runs[f"{name} fused"] = ours(name, log, fused=True)
        runs[f"{name} tensor"] = ours(name, log, fused=False)
    runs.update(peer_runs(args, log))

    runs[f"{args.models[0]} fused"]()  # compile or load the kernel outside the timing
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    for round_ in range(args.repeats):
        order = list(runs) if round_ % 2 == 0 else list(runs)[::-1]  # odd rounds: tensor before fused
        for label in order:
            try:
                seconds, cpu = runs[label]()
            except Exception as exc:  # noqa: BLE001 - a failing peer is reported, the others go on
                print(f"  {label}: failed ({type(exc).__name__}: {exc})", flush=True)
                continue
            best[label] = min(best.get(label, np.inf), seconds)
            best_cpu[label] = min(best_cpu.get(label, np.inf), cpu)
            print(f"  round {round_ + 1} {label:40s} {seconds:8.2f} s wall {cpu:8.2f} s CPU", flush=True)

    print(f"\nbest of {args.repeats}, seconds per epoch: wall (CPU)")
    print(f"{'model':24s} {'fused':>16s} {'tensor':>16s} {'ratio wall (CPU)':>18s}")
    for name in args.models:
        fused, tensor = best.get(f"{name} fused"), best.get(f"{name} tensor")
        if fused and tensor:
            fc, tc = best_cpu[f"{name} fused"], best_cpu[f"{name} tensor"]
            print(f"{name:24s} {fused:7.2f} ({fc:6.2f}) {tensor:7.2f} ({tc:6.2f}) "
                  f"{tensor / fused:8.2f}x ({tc / fc:.2f}x)")
    for peer, ours_name in (("GRU4Rec PyTorch (official)", "rnn-gru4rec-official"),
                            ("HRNN Theano (authors)", "hrnn-init-small")):
        if peer in best and f"{ours_name} fused" in best:
            ratio = best[peer] / best[ours_name + " fused"]
            print(f"{peer} {best[peer]:.2f} s/epoch; {ours_name} fused is {ratio:.2f}x faster")


if __name__ == "__main__":
    main()
