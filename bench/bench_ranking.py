"""Ranking speed: the evaluation's counting kernels against the previous implementation (full
boolean masks, kept in tests/ranking_reference.py), interleaved in one run, on the shapes of a
large evaluation: batches of 256 predictions among 50,000 candidates plus the targets (the 8M- and
33M-event logs), and among all 58k items (XING scale). Scores are random with ties; both
implementations must agree bit for bit (checked on every batch).

    python bench/bench_ranking.py [--candidates 50000] [--items 58000] [--batches 20] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.evaluation.ranking import rank_among_columns, rank_targets_with_ties
from tests.ranking_reference import reference_rank_among_columns, reference_rank_targets_with_ties

BATCH = 256


def timed(rank, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = rank(*args, "conservative")
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=58_000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    n_items = max(args.items, 8 * args.candidates)
    candidates = torch.sort(torch.randperm(n_items, generator=g)[: args.candidates]).values
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s); "
          f"{args.batches} batches of {BATCH} predictions, interleaved")
    times: dict[str, list[float]] = {"among candidates, previous": [], "among candidates, now": [],
                                     "among all items, previous": [], "among all items, now": []}
    for _ in range(args.batches):
        targets = torch.randint(0, n_items, (BATCH,), generator=g)
        targets[: BATCH // 4] = candidates[torch.randint(0, args.candidates, (BATCH // 4,), generator=g)]
        columns = (torch.randn(BATCH, args.candidates + BATCH, generator=g) * 4).round() / 4  # some ties
        old_seconds, old = timed(reference_rank_among_columns, columns, candidates, targets)
        new_seconds, new = timed(rank_among_columns, columns, candidates, targets)
        assert torch.equal(old.rank, new.rank) and torch.equal(old.tied, new.tied)  # type: ignore[attr-defined]
        times["among candidates, previous"].append(old_seconds)
        times["among candidates, now"].append(new_seconds)
        full = (torch.randn(BATCH, args.items, generator=g) * 4).round() / 4
        item_targets = torch.randint(0, args.items, (BATCH,), generator=g)
        old_seconds, old = timed(reference_rank_targets_with_ties, full, item_targets)
        new_seconds, new = timed(rank_targets_with_ties, full, item_targets)
        assert torch.equal(old.rank, new.rank) and torch.equal(old.tied, new.tied)  # type: ignore[attr-defined]
        times["among all items, previous"].append(old_seconds)
        times["among all items, now"].append(new_seconds)
    print(f"{'ranking':<28} {'ms per batch (median)':>22} {'speed-up':>9}")
    for what in ("among candidates", "among all items"):
        previous = statistics.median(times[f"{what}, previous"]) * 1e3
        now = statistics.median(times[f"{what}, now"]) * 1e3
        columns_text = f"{args.candidates:,} candidates" if what == "among candidates" else f"{args.items:,} items"
        print(f"{what + ', previous':<28} {previous:>22.1f}")
        print(f"{what + ', now':<28} {now:>22.1f} {previous / now:>8.1f}x   ({columns_text})")


if __name__ == "__main__":
    main()
