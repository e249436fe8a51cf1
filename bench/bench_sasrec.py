"""SASRec's speed beside HRNN's, and its memory on a very large log.

Speed (default): on a random log at XING scale (``bench.bench_training.synthetic_log``: about 550k
events, 58k items), one epoch of SASRec with its defaults (sampled cross-entropy), of its
session-only twin, a few steps of the full cross-entropy (an epoch of it takes long on a CPU), and
one epoch of HRNN Init small (``train()``), one after the other
in one process; then the evaluation of SASRec and of HRNN Init small on the random split of the
same scale (``bench.bench_evaluation.random_split``). Wall seconds and CPU seconds of this process
(the difference is time the machine gave to others).

    python bench/bench_sasrec.py [--scale 1.0] [--threads 1] [--full-steps 5]

Memory (``--events N --steps S``): a random log of N events (33M: the paper's largest), then
SASRec's training windows and S training steps of the defaults, and an evaluation of
``--eval-users`` users; prints the peak RSS after each phase.

    python bench/bench_sasrec.py --events 33000000 --steps 50 --eval-users 2000
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from bench.bench_evaluation import neural_scorer, random_split
from bench.bench_training import synthetic_log
from engine.errors import Cancelled
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.sasrec import SASRecNetwork
from engine.models.sasrec_scorer import SASRecStreamScorer
from engine.progress import CancelToken
from engine.training.loop import train
from engine.training.presets import preset
from engine.training.sasrec_config import SASRecConfig
from engine.training.sasrec_training import train_sasrec, training_windows

SETTINGS = EvaluationSettings(ks=(5, 10, 20), batch_size=256)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def speed(scale: float, full_steps: int) -> None:
    log = synthetic_log(int(6800 * scale), int(58000 * scale), 0)
    print(f"log: {log.n_events:,} events, {log.n_users:,} users, {log.n_items:,} items, "
          f"{log.n_sessions:,} sessions; torch threads {torch.get_num_threads()}", flush=True)
    train_sasrec(SASRecConfig(epochs=1, device="cpu"), log.select_sessions(np.arange(log.n_sessions) < 200))  # warm-up
    print("| model | epoch wall s | epoch CPU s | pairs | pairs/s (CPU) |\n| --- | --- | --- | --- | --- |")
    runs = [("SASRec, sampled cross-entropy (default)", SASRecConfig(epochs=1, device="cpu")),
            ("SASRec session twin, sampled cross-entropy", SASRecConfig(model="sasrec-session", epochs=1,
                                                                        device="cpu"))]
    for label, config in runs:
        with Clock() as clock:
            result = train_sasrec(config, log)
        print(f"| {label} | {clock.wall:.1f} | {clock.cpu:.1f} | {result.pairs_per_epoch:,} | "
              f"{result.pairs_per_epoch / clock.cpu:,.0f} |", flush=True)
    if full_steps:
        config = SASRecConfig(loss="cross-entropy", epochs=1, device="cpu")
        windows = training_windows(log, False, config.max_length, False)
        steps = -(-windows.n_windows // config.batch_size)
        with Clock() as clock:
            done = _steps(config, log, full_steps)
        per_step = clock.cpu / max(done, 1)
        print(f"| SASRec, cross-entropy over all items ({done} of {steps} steps) | {clock.wall:.1f} | {clock.cpu:.1f} "
              f"| about {per_step:.2f} CPU s per step: an epoch about {per_step * steps:,.0f} CPU s | |", flush=True)
    with Clock() as clock:
        hrnn = train(preset("hrnn-init-small", epochs=1, device="cpu"), log)
    print(f"| HRNN Init small | {clock.wall:.1f} | {clock.cpu:.1f} | {hrnn.pairs_per_epoch:,} | "
          f"{hrnn.pairs_per_epoch / clock.cpu:,.0f} |", flush=True)

    train_log, test_log = random_split(scale, 0)
    print(f"\nevaluation: {train_log.n_events:,} training events fed first, every item ranked")
    print("| model | wall s | CPU s | predictions | predictions/s (CPU) |\n| --- | --- | --- | --- | --- |")
    network = train_sasrec(SASRecConfig(epochs=1, device="cpu"), train_log).network
    scorers = [("SASRec (defaults)", SASRecStreamScorer(network, "sasrec")),
               ("HRNN Init small", neural_scorer("hrnn-init-small", train_log.n_items, "cpu"))]
    for label, scorer in scorers:
        with Clock() as clock:
            result = evaluate(scorer, train_log, test_log, SETTINGS)
        print(f"| {label} | {clock.wall:.1f} | {clock.cpu:.1f} | {result.n_events:,} | "
              f"{result.n_events / clock.cpu:,.0f} |", flush=True)


def _steps(config: SASRecConfig, log, steps: int) -> int:
    """Train ``config`` on ``log`` for ``steps`` steps of its first epoch (cancelled then); the
    steps done."""
    cancel = CancelToken()
    done: list[int] = []

    def progress(_fraction: float, message: str) -> None:
        step = int(message.rsplit("step ", 1)[-1].split("/")[0]) if "step " in message else 0
        done.append(step)
        if step >= steps:
            cancel.cancel()

    try:
        train_sasrec(config, log, progress, cancel)
    except Cancelled:
        pass
    return max(done, default=0)


def memory(n_events: int, steps: int, eval_users: int) -> None:
    n_users = max(1, n_events // 81)  # synthetic_log's users hold 81 events on average
    with Clock() as clock:
        log = synthetic_log(n_users, 1_000_000 if n_events > 10_000_000 else 58_000, 0)
    print(f"log: {log.n_events:,} events, {log.n_items:,} items ({clock.wall:.0f} s); peak RSS "
          f"{peak_rss_gib():.2f} GiB", flush=True)
    config = SASRecConfig(epochs=1, device="cpu")
    with Clock() as clock:
        windows = training_windows(log, False, config.max_length, False)
    print(f"windows: {windows.n_windows:,} ({clock.wall:.1f} s); peak RSS {peak_rss_gib():.2f} GiB", flush=True)
    del windows
    with Clock() as clock:
        trained_steps = _steps(config, log, steps)
    print(f"training: {trained_steps} steps in {clock.wall:.0f} s ({clock.cpu / max(trained_steps, 1):.2f} CPU s per "
          f"step, windows included); peak RSS {peak_rss_gib():.2f} GiB", flush=True)
    network = SASRecNetwork(config.network_spec(log.n_items))  # untrained weights: the cost is the same
    users = np.arange(min(eval_users, n_users))
    train_part = log.select_sessions(np.isin(log.session_user, users) & (np.arange(log.n_sessions) % 7 != 6))
    test_part = log.select_sessions(np.isin(log.session_user, users) & (np.arange(log.n_sessions) % 7 == 6))
    with Clock() as clock:
        result = evaluate(SASRecStreamScorer(network, "sasrec"), train_part, test_part,
                          EvaluationSettings(ks=(5,), n_candidates=50_000))
    print(f"evaluation of {len(users):,} users ({result.n_events:,} predictions among 50,000 candidates): "
          f"{clock.wall:.0f} s; peak RSS {peak_rss_gib():.2f} GiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of XING scale (speed)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--full-steps", type=int, default=5, help="speed: steps of the full cross-entropy timed "
                        "(an epoch of it takes long on a CPU; 0: none)")
    parser.add_argument("--events", type=int, default=None, help="memory: a random log of this many events")
    parser.add_argument("--steps", type=int, default=50, help="memory: training steps")
    parser.add_argument("--eval-users", type=int, default=2000, help="memory: users evaluated")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["HRNN_TRAINING_THREADS"] = str(args.threads)
    if args.events:
        memory(args.events, args.steps, args.eval_users)
    else:
        speed(args.scale, args.full_steps)


if __name__ == "__main__":
    main()
