"""SASRec's losses side by side on one dataset of a workspace: each loss trained with the model's
defaults otherwise, scored on the validation split every few epochs (how the default loss and
epochs were chosen) and, at the end, on the test split; with per-epoch seconds.

    python bench/sasrec_losses.py WORKSPACE DATASET [--model sasrec] [--epochs 100] [--every 10]
        [--losses cross-entropy sampled-cross-entropy bce gbce] [--seeds 0 1] [--set NAME=VALUE ...]
        [--split valid|test|both]

Prints one line per (loss, seed, checkpoint epoch) with validation recall@5, MRR@5 and recall@20
(conservative ties, every item ranked; ``--split valid``, the default), and/or (``test``) a table
of the test split after training on the full training split.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.sasrec_losses import SEQUENCE_LOSSES
from engine.runs.models import build_config
from engine.storage.catalog import find_dataset, load_prepared
from engine.storage.workspace import Workspace
from engine.training.network_training import network_scorer
from engine.training.sasrec_config import SASRecConfig
from engine.training.sasrec_training import train_sasrec

SETTINGS = EvaluationSettings(ks=(5, 20))


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("dataset")
    parser.add_argument("--model", default="sasrec")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--every", type=int, default=10, help="score the validation split every N epochs")
    parser.add_argument("--losses", nargs="+", default=list(SEQUENCE_LOSSES.names()))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE, a setting of every run")
    parser.add_argument("--split", default="valid", choices=["valid", "test", "both"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = {name: _value(value) for name, value in (item.split("=", 1) for item in args.set)}
    with Workspace(args.workspace) as workspace:
        with workspace.session() as session:
            dataset_id = find_dataset(session, args.dataset).id
        prepared = load_prepared(workspace, dataset_id)
    rows = []
    for loss in args.losses:
        for seed in args.seeds:
            config = build_config(args.model, None, {**overrides, "loss": loss, "epochs": args.epochs,
                                                     "device": "cpu"}, seed)
            assert isinstance(config, SASRecConfig)

            def after_epoch(epoch: int, network: object, loss: str = loss, seed: int = seed) -> None:
                if epoch % args.every and epoch != args.epochs:
                    return
                scorer = network_scorer(network, args.model)  # type: ignore[arg-type]
                result = evaluate(scorer, prepared.valid_train, prepared.valid_test, SETTINGS).mean_metrics()
                print(f"{loss:22s} seed {seed} epoch {epoch:4d}  valid recall@5 {result['recall@5']:.4f}  "
                      f"mrr@5 {result['mrr@5']:.4f}  recall@20 {result['recall@20']:.4f}", flush=True)

            if args.split != "test":
                started = time.perf_counter()
                trained = train_sasrec(config, prepared.valid_train, after_epoch=after_epoch)
                print(f"{loss:22s} seed {seed} validation split: {(time.perf_counter() - started) / args.epochs:.2f} "
                      f"s per epoch, scoring included", flush=True)
                del trained
            if args.split != "valid":
                final = train_sasrec(config, prepared.train)
                started = time.perf_counter()
                test = evaluate(network_scorer(final.network, args.model), prepared.train, prepared.test, SETTINGS)
                rows.append((loss, seed, test.mean_metrics(), float(np.mean(final.epoch_seconds)),
                             time.perf_counter() - started))
    if not rows:
        return
    print(f"\ntest split of {args.dataset} after {args.epochs} epochs ({args.model}, {overrides or 'defaults'}):")
    print(f"{'loss':22s} {'seed':>4s} {'recall@5':>9s} {'mrr@5':>7s} {'recall@20':>9s} {'s/epoch':>8s} {'eval s':>7s}")
    for loss, seed, metrics, epoch_s, eval_s in rows:
        print(f"{loss:22s} {seed:4d} {metrics['recall@5']:9.4f} {metrics['mrr@5']:7.4f} {metrics['recall@20']:9.4f} "
              f"{epoch_s:8.2f} {eval_s:7.1f}")


if __name__ == "__main__":
    main()
