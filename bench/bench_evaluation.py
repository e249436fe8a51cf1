"""Evaluation throughput of the baselines and the neural models on a random log at XING scale.

Usage: python bench/bench_evaluation.py [--scale 1.0] [--batch-size 256] [--device cpu] [--threads N]
       [--repeat R] [--candidates N] [--models ...] [--previous]

``--previous`` also times, interleaved with today's, the evaluation's previous candidate path (the
columns of ``scores_of`` ranked by the previous kernels of tests/ranking_reference.py) and counts
the predictions whose ranks differ (scale 15 is about 8M events).

The random log has about 11.5k users, 58k items, 90k sessions and 540k events (the paper's XING
after filtering); item popularity is Zipf-like. The last session of each user is the test session.
Throughput is predictions (test events ranked) per second of the whole evaluate() call, history
feeding ("bootstrapping") included; "pop + history" feeds every user's training sessions to a Pop
scorer, which measures what feeding costs the evaluator itself. The neural models are untrained
networks of the paper's presets (their speed does not depend on the weights). Each figure is the
best of ``--repeat`` evaluations (the machine may be shared).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.baselines import BASELINES
from engine.baselines.pop import PopScorer
from engine.data.session_log import SessionLog
from engine.evaluation import evaluator
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.network import RecurrentNetwork
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.training.presets import NETWORK_PRESETS, preset


def random_split(scale: float, seed: int) -> tuple[SessionLog, SessionLog]:
    """(train, test) of a random log: ~11.5k*scale users, 58k*scale items, last session per user is test."""
    rng = np.random.default_rng(seed)
    n_users, n_items = int(11_500 * scale), int(58_000 * scale)
    sessions_per_user = 4 + rng.geometric(1 / 3.8, n_users)  # mean 7.8
    session_user = np.repeat(np.arange(n_users), sessions_per_user)
    session_length = 2 + rng.geometric(1 / 4.0, len(session_user))  # mean 6
    user = np.repeat(session_user, session_length)
    session = np.repeat(np.arange(len(session_user)), session_length)
    weights = 1.0 / (np.arange(n_items) + 10.0) ** 0.8
    item = rng.choice(n_items, size=len(user), p=weights / weights.sum())
    last_session = np.r_[np.cumsum(sessions_per_user)] - 1  # per user
    is_test = np.isin(session, last_session)
    train = SessionLog.from_arrays(user[~is_test], session[~is_test], item[~is_test],
                                   np.arange(int((~is_test).sum()), dtype=float), n_users, n_items)
    in_train = np.bincount(train.item, minlength=n_items) > 0
    keep = is_test & in_train[item]
    test = SessionLog.from_arrays(user[keep], session[keep], item[keep],
                                  np.arange(int(keep.sum()), dtype=float), n_users, n_items)
    return train, test.select_sessions(test.session_length >= 2)


def neural_scorer(preset_name: str, n_items: int, device: str) -> RecurrentStreamScorer:
    """An untrained network of a preset as a scorer (evaluation speed does not depend on weights)."""
    config = preset(preset_name)
    network = RecurrentNetwork(config.network_spec(n_items), seed=0).to(device)
    return RecurrentStreamScorer(network, config.model)


def fit_baseline(name: str, train: SessionLog, device: str):
    """A baseline of the model registry fitted with its default settings."""
    entry = next(entry for entry in BASELINES if entry.name == name)
    return entry.fit(entry.presets[entry.default_preset], train, device)


def previous_rank_candidates(scorer, slots, targets, candidates, tie_mode):
    """The evaluator's candidate ranking before ``candidate_scores`` and the counting kernels."""
    from tests.ranking_reference import reference_rank_among_columns

    columns = np.concatenate([candidates, targets])
    scores = scorer.scores_of(slots, columns) if hasattr(scorer, "scores_of") else \
        scorer.scores(slots)[:, torch.from_numpy(columns)]
    n_nonfinite = int((~torch.isfinite(scores[:, len(candidates):].diagonal())).sum())
    return reference_rank_among_columns(scores, torch.from_numpy(candidates), torch.from_numpy(targets),
                                        tie_mode), n_nonfinite


def evaluate_previous(scorer, train, test, settings):
    current = evaluator._rank_candidates
    evaluator._rank_candidates = previous_rank_candidates
    try:
        return evaluate(scorer, train, test, settings)
    finally:
        evaluator._rank_candidates = current


class PopWithHistory(PopScorer):
    """Pop fed with the users' training sessions: the evaluator's cost of bootstrapping."""

    history_feed = "session_inputs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the XING-sized log")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=None,
                        help="rank among the N most popular items plus the target (default: all items)")
    parser.add_argument("--repeat", type=int, default=1, help="evaluations per model; the fastest is shown")
    parser.add_argument("--previous", action="store_true",
                        help="also time the previous candidate ranking, interleaved (needs --candidates)")
    parser.add_argument("--models", nargs="+", default=["pop", "pop + history", "personal-pop", "item-knn",
                                                          "rnn-small", "hrnn-init-small", "hrnn-init-large"],
                        help="which models to measure (baselines, or neural preset names)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    train, test = random_split(args.scale, args.seed)
    print(f"random log: {train.n_users} users, {train.n_items} items, {train.n_events} train events "
          f"({train.n_sessions} sessions), {test.n_events} test events ({test.n_sessions} sessions); "
          f"generated in {time.perf_counter() - started:.1f} s")
    print(f"device {args.device}, batch {args.batch_size}, torch threads {torch.get_num_threads()}")
    settings = EvaluationSettings(ks=(5, 10, 20), batch_size=args.batch_size, n_candidates=args.candidates)
    evaluate(fit_baseline("pop", train, args.device), train, test.select_sessions(
        np.arange(test.n_sessions) < 500), settings)  # warm-up: first-touch allocations, lazy imports
    fits = {
        "pop + history": lambda: PopWithHistory.fit(train, args.device),
        **{entry.name: (lambda entry=entry: fit_baseline(entry.name, train, args.device)) for entry in BASELINES},
    }
    for kind, presets in NETWORK_PRESETS.items():
        for name in presets:
            fits[f"{kind}-{name}"] = lambda name=f"{kind}-{name}": neural_scorer(name, train.n_items, args.device)
    fits = {name: fits[name] for name in args.models}
    print(f"ranks with {settings.tie_mode} ties")
    print(f"{'model':<16} {'fit s':>7} {'eval s':>7} {'predictions':>11} {'pred/s':>9} {'fed/s':>9} {'recall@5':>8}")
    for name, fit in fits.items():
        started = time.perf_counter()
        scorer = fit()
        fit_seconds = time.perf_counter() - started
        results, previous = [], []
        for _ in range(args.repeat):
            if args.previous:
                previous.append(evaluate_previous(scorer, train, test, settings))
            results.append(evaluate(scorer, train, test, settings))
        result = min(results, key=lambda r: r.seconds)
        print(f"{name:<16} {fit_seconds:7.2f} {result.seconds:7.2f} {result.n_events:11d} "
              f"{result.n_events / result.seconds:9.0f} {result.consumed_events / result.seconds:9.0f} "
              f"{result.metrics['recall@5']:8.4f}")
        if previous:
            before = min(previous, key=lambda r: r.seconds)
            differing = int((before.rank != result.rank).sum())
            print(f"{'  previously':<16} {'':7} {before.seconds:7.2f} {'':11} {before.n_events / before.seconds:9.0f} "
                  f"{'':9} {before.metrics['recall@5']:8.4f}   now {before.seconds / result.seconds:.2f}x faster; "
                  f"{differing} of {result.n_events} ranks differ")


if __name__ == "__main__":
    main()
