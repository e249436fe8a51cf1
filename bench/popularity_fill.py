"""What the popularity fill is worth: every sparse model (kNN, rules, Markov, Personal Pop) at its
defaults, with the fill on and off, on one dataset of a workspace, every target ranked among the
dataset's candidates. Prints recall@5, MRR@5 and recall@20 under conservative ties (the default)
and, from the same ranks' tie counts, under optimistic ties, with the tied-target and given-nothing
shares. The measurement behind the fill's default (RESULTS.md, "Popularity fill").

    python main.py generate --preset xing_scale --seed 0 --import --name xing --workspace /tmp/fill/ws.sqlite
    python bench/popularity_fill.py /tmp/fill/ws.sqlite xing [--models markov sr]

Baselines are deterministic: one fit each. Nothing is stored in the workspace.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import torch

from engine.baselines.popularity_fill import FILL_SETTING
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.evaluation.metrics import mean_metrics
from engine.evaluation.ties import convert_ranks
from engine.runs.evaluate_run import dataset_settings
from engine.runs.models import MODELS, build_config
from engine.storage import catalog
from engine.storage.workspace import Workspace

FILLED = tuple(entry.name for entry in MODELS
               if FILL_SETTING in {f.name for f in dataclasses.fields(entry.config_type)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("--models", nargs="+", default=list(FILLED), choices=FILLED)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with Workspace(args.workspace, create=False) as workspace:
        with workspace.session() as session:
            dataset_id = catalog.find_dataset(session, args.dataset).id
        prepared = catalog.load_prepared(workspace, dataset_id)
        settings = dataset_settings(workspace, dataset_id, EvaluationSettings(ks=(5, 20)))
    print(f"dataset {args.dataset}: {prepared.train.n_events:,} training events, {prepared.train.n_items:,} items; "
          f"targets ranked among {'all items' if settings.n_candidates is None else settings.n_candidates}")
    header = (f"{'model':<14} {'fill':<4} {'recall@5':>9} {'mrr@5':>7} {'recall@20':>9} | {'optimistic r@5':>14} "
              f"{'r@20':>7} | {'tied':>6} {'nothing':>7} {'seconds':>7}")
    print(header)
    print("-" * len(header))
    for model in args.models:
        entry = MODELS[model]
        for fill in (False, True):
            started = time.perf_counter()
            scorer = entry.fit(build_config(model, None, {FILL_SETTING: fill}, seed=0), prepared.train, "cpu")
            result = evaluate(scorer, prepared.train, prepared.test, settings)
            optimistic = mean_metrics(convert_ranks(result.rank, result.tied, settings.tie_mode, "standard"), (5, 20))
            ties = result.ties()
            print(f"{entry.label:<14} {'on' if fill else 'off':<4} {result.metrics['recall@5']:>9.4f} "
                  f"{result.metrics['mrr@5']:>7.4f} {result.metrics['recall@20']:>9.4f} | "
                  f"{optimistic['recall@5']:>14.4f} {optimistic['recall@20']:>7.4f} | {ties.tied_share:>6.1%} "
                  f"{ties.floor_share:>7.1%} {time.perf_counter() - started:>7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
