"""Training throughput of the neural models (pairs/s and events/s) on a synthetic XING-sized log.

Usage: ``python bench/bench_training.py [--threads 1] [--steps 300] [--repeats 3] [--profile]
[--full-epoch]``.
Builds a random log (default ~550k events: 6,800 users with 5-20 sessions of 3-10 events, 58k
items with Zipf-like popularity), then times ``--steps`` training steps (after a warm-up) of RNN
and HRNN Init/All, small and large, at batch size 100, plus HRNN Init small with its paper preset
(batch 50); each figure is the best of ``--repeats`` timed runs. A *pair* is one (input, target)
training example; events/s scales pairs/s by events/pairs of the log (a session of L events gives
L - 1 pairs), the way throughput is usually quoted. ``--profile`` prints where the time of HRNN
Init small goes (cProfile and torch profiler); ``--full-epoch`` also times one complete epoch of it
through ``train()``.
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.data.session_log import SessionLog
from engine.models.network import RecurrentNetwork
from engine.training.config import TrainConfig
from engine.training.loop import make_batcher, resolve_device, train
from engine.training.presets import preset
from engine.training.train_step import TrainStep, epoch_tensors


def synthetic_log(n_users: int, n_items: int, seed: int) -> SessionLog:
    """Users with 5-20 sessions of 3-10 events; items drawn with popularity ~ 1 / (rank + 10)."""
    rng = np.random.default_rng(seed)
    sessions_per_user = rng.integers(5, 21, size=n_users)
    session_user = np.repeat(np.arange(n_users), sessions_per_user)
    session_length = rng.integers(3, 11, size=len(session_user))
    user = np.repeat(session_user, session_length)
    session = np.repeat(np.arange(len(session_user)), session_length)
    weights = 1.0 / (np.arange(n_items) + 10.0)
    item = rng.choice(n_items, size=len(user), p=weights / weights.sum())
    time_s = np.repeat(np.arange(len(session_user)) * 3600.0, session_length) + \
        np.arange(len(user)) - np.repeat(np.cumsum(session_length) - session_length, session_length)
    return SessionLog.from_arrays(user, session, item, time_s.astype(float), n_users, n_items)


def prepared_step(config: TrainConfig, log: SessionLog) -> tuple[TrainStep, object]:
    device = resolve_device(config.device)
    network = RecurrentNetwork(config.network_spec(log.n_items), seed=config.seed).to(device)
    popularity = np.bincount(log.item, minlength=log.n_items).astype(np.float64)
    step = TrainStep(config, network, popularity, torch.Generator(device=device).manual_seed(0))
    schedule = make_batcher(config).schedule(log, np.random.default_rng(0))
    return step, epoch_tensors(schedule, log, network.spec.pad_item, device)


def run_steps(step: TrainStep, tensors, first: int, count: int) -> int:
    """Run ``count`` steps from step ``first``; returns the number of pairs trained."""
    pairs = 0
    for t in range(first, first + count):
        step(tensors.items[t], tensors.targets[t], tensors.keep[t], tensors.update[t], tensors.active[t])
        pairs += int(tensors.active[t].sum())
    if tensors.items.is_cuda:
        torch.cuda.synchronize()
    return pairs


def measure(config: TrainConfig, log: SessionLog, steps: int, repeats: int, warmup: int = 10) -> float:
    """Best pairs per second of ``repeats`` consecutive runs of ``steps`` steps, after ``warmup``
    steps (the best run is the least disturbed by other processes on a shared machine)."""
    step, tensors = prepared_step(config, log)
    run_steps(step, tensors, 0, warmup)
    best = 0.0
    for k in range(repeats):
        started = time.perf_counter()
        pairs = run_steps(step, tensors, warmup + k * steps, steps)
        best = max(best, pairs / (time.perf_counter() - started))
    return best


def profile(config: TrainConfig, log: SessionLog, steps: int) -> None:
    step, tensors = prepared_step(config, log)
    run_steps(step, tensors, 0, 10)
    profiler = cProfile.Profile()
    profiler.enable()
    run_steps(step, tensors, 10, steps)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(14)
    print("\n--- cProfile, HRNN Init small (top by own time) ---")
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[:4000])
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run_steps(step, tensors, 10 + steps, steps)
    print("\n--- torch profiler, HRNN Init small (top ops by self CPU time) ---")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=16))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6800)
    parser.add_argument("--items", type=int, default=58000)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per small model")
    parser.add_argument("--large-steps", type=int, default=40, help="timed steps per large model")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per model; the best counts")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--full-epoch", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    log = synthetic_log(args.users, args.items, args.seed)
    n_pairs = int(np.sum(log.session_length - 1))
    per_pair = log.n_events / n_pairs
    print(f"log: {log.n_events:,} events, {n_pairs:,} pairs, {log.n_sessions:,} sessions, "
          f"{log.n_users:,} users, {log.n_items:,} items; torch {torch.__version__}, "
          f"{args.threads} thread(s), device {resolve_device(args.device)}")
    rows = [
        ("rnn-small", "rnn-small", 100), ("hrnn-init-small", "hrnn-init-small", 100),
        ("hrnn-all-small", "hrnn-all-small", 100), ("hrnn-init-small (preset, batch 50)", "hrnn-init-small", 50),
        ("rnn-large", "rnn-large", 100), ("hrnn-init-large", "hrnn-init-large", 100),
        ("hrnn-all-large", "hrnn-all-large", 100),
    ]
    print(f"\n{'model':38s} {'batch':>5s} {'pairs/s':>10s} {'events/s':>10s}")
    for label, name, batch in rows:
        config = preset(name, batch_size=batch, device=args.device)
        steps = args.large_steps if "large" in name else args.steps
        rate = measure(config, log, steps, args.repeats)
        print(f"{label:38s} {batch:5d} {rate:10,.0f} {rate * per_pair:10,.0f}", flush=True)
    small = preset("hrnn-init-small", batch_size=100, device=args.device)
    if args.full_epoch:
        result = train(dataclasses.replace(small, epochs=1), log)
        print(f"\nfull epoch of hrnn-init-small (batch 100) through train(): {result.epoch_seconds[0]:.1f} s, "
              f"{result.pairs_per_second:,.0f} pairs/s incl. scheduling")
    if args.profile:
        profile(small, log, args.steps)


if __name__ == "__main__":
    sys.exit(main())
