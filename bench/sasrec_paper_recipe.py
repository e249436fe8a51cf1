"""SASRec against an independent re-implementation of the original paper's training procedure
(Kang & McAuley, ICDM 2018, and the authors' code), on one dataset of a workspace, with the same
split and the same evaluation (the workbench's evaluator: the user's training events fed first,
every item ranked, conservative ties).

The re-implementation, written for this check and sharing no model or training code with the
workbench: torch's ``nn.MultiheadAttention`` in the authors' block layout (the queries
layer-normalised, the keys and values not, the residual added to the normalised queries), a
point-wise feed-forward layer with its own residual, the embedding times sqrt(d) plus a learned
position per column of a left-padded window of L; the paper's sampler (each step draws
``batch_size`` users at random with replacement, each user's last L training events with their next
events as targets and, per target, one negative drawn uniformly among the items the user never
interacted with); binary cross-entropy over the targets; Adam (0.001, betas 0.9 and 0.98);
Xavier-normal matrices; an epoch is ceil(users / batch size) steps.

The workbench's side: ``python main.py train DATASET --model sasrec --preset paper`` (the same
settings: d = 50, 2 blocks, 1 head, L = 50, dropout, Adam 0.001, batch 128, BCE with one negative,
each user's latest window per epoch), here trained in the same process through ``train_sasrec``.

    python bench/sasrec_paper_recipe.py WORKSPACE DATASET [--epochs 200] [--seeds 0 1 2]
        [--dropout 0.5] [--only ours|reference]

Prints recall@5, MRR@5, recall@20 and MRR@20 per seed and their means for both.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from torch import nn

from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.sasrec_scorer import SASRecStreamScorer
from engine.runs.models import build_config
from engine.storage.catalog import find_dataset, load_prepared
from engine.storage.workspace import Workspace
from engine.training.sasrec_config import SASRecConfig
from engine.training.sasrec_training import train_sasrec

SETTINGS = EvaluationSettings(ks=(5, 20))


class PaperBlock(nn.Module):
    """One block as the authors' code lays it out."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d, eps=1e-8)
        self.attention = nn.MultiheadAttention(d, 1, dropout=dropout, batch_first=True)
        self.forward_norm = nn.LayerNorm(d, eps=1e-8)
        self.conv1 = nn.Conv1d(d, d, kernel_size=1)
        self.conv2 = nn.Conv1d(d, d, kernel_size=1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, seqs: torch.Tensor, future: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        queries = self.attention_norm(seqs)
        attended, _ = self.attention(queries, seqs, seqs, attn_mask=future, need_weights=False)
        seqs = self.forward_norm(queries + attended)
        inner = torch.relu(self.dropout(self.conv1(seqs.transpose(1, 2))))  # [B, d, L]
        seqs = seqs + self.dropout(self.conv2(inner)).transpose(1, 2)
        return seqs * ~padding.unsqueeze(-1)


class PaperSASRec(nn.Module):
    """Items are 1..n (0 is padding); ``feats`` gives the output after every column."""

    def __init__(self, n_items: int, d: int, length: int, blocks: int, dropout: float) -> None:
        super().__init__()
        self.d, self.length = d, length
        self.items = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.positions = nn.Embedding(length, d)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(PaperBlock(d, dropout) for _ in range(blocks))
        self.last_norm = nn.LayerNorm(d, eps=1e-8)
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_normal_(parameter)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def feats(self, window: torch.Tensor) -> torch.Tensor:  # [B, L] -> [B, L, d]
        padding = window == 0
        seqs = self.items(window) * math.sqrt(self.d) + self.positions.weight[None, : window.shape[1]]
        seqs = self.dropout(seqs) * ~padding.unsqueeze(-1)
        future = torch.ones(window.shape[1], window.shape[1], dtype=torch.bool).triu(1)
        for block in self.blocks:
            seqs = block(seqs, future, padding)
        return self.last_norm(seqs)


def user_sequences(log: SessionLog) -> list[np.ndarray]:
    """Each user's training items in time order (item codes + 1)."""
    cuts = np.flatnonzero(np.diff(log.user)) + 1
    users = np.split(log.item + 1, cuts)
    return [u for u in users if len(u) > 1]


def train_reference(log: SessionLog, epochs: int, d: int, length: int, blocks: int, dropout: float, batch: int,
                    seed: int) -> PaperSASRec:
    """The paper's training procedure (module docstring)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    sequences = user_sequences(log)
    seen = [set(s.tolist()) for s in sequences]
    model = PaperSASRec(log.n_items, d, length, blocks, dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.98))
    steps = math.ceil(len(sequences) / batch)
    for _ in range(epochs):
        model.train()
        for _ in range(steps):
            chosen = rng.integers(len(sequences), size=batch)
            window = np.zeros((batch, length), dtype=np.int64)
            positive = np.zeros((batch, length), dtype=np.int64)
            negative = np.zeros((batch, length), dtype=np.int64)
            for row, user in enumerate(chosen):
                items = sequences[user][-(length + 1):]
                inputs, targets = items[:-1], items[1:]
                window[row, length - len(inputs):] = inputs
                positive[row, length - len(targets):] = targets
                drawn = rng.integers(1, log.n_items + 1, size=len(targets))
                for k in range(len(drawn)):
                    while drawn[k] in seen[user]:
                        drawn[k] = rng.integers(1, log.n_items + 1)
                negative[row, length - len(targets):] = drawn
            feats = model.feats(torch.from_numpy(window))
            pos_logits = (feats * model.items(torch.from_numpy(positive))).sum(-1)
            neg_logits = (feats * model.items(torch.from_numpy(negative))).sum(-1)
            mask = torch.from_numpy(positive != 0)
            loss = (nn.functional.binary_cross_entropy_with_logits(pos_logits[mask], torch.ones(int(mask.sum())))
                    + nn.functional.binary_cross_entropy_with_logits(neg_logits[mask], torch.zeros(int(mask.sum()))))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


class ReferenceScorer:
    """The re-implementation as a StreamScorer: the last L events of the user's stream (training
    events across sessions, then the test session's prefix), left-padded."""

    history_feed = "all_events"

    def __init__(self, model: PaperSASRec, n_items: int) -> None:
        self.model, self.n_items = model, n_items

    def reset(self, n_slots: int) -> None:
        self.windows = np.zeros((n_slots, self.model.length), dtype=np.int64)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self.windows[slots] = 0

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        self.windows[rows, :-1] = self.windows[rows, 1:]
        self.windows[rows, -1] = items[rows] + 1

    @torch.no_grad()
    def scores(self, slots: np.ndarray) -> torch.Tensor:
        feats = self.model.feats(torch.from_numpy(self.windows[slots]))[:, -1]
        return feats @ self.model.items.weight[1:].T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("dataset")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--only", choices=["ours", "reference"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with Workspace(args.workspace) as workspace:
        with workspace.session() as session:
            dataset_id = find_dataset(session, args.dataset).id
        prepared = load_prepared(workspace, dataset_id)
    ours_config = build_config("sasrec", "paper", {"epochs": args.epochs, "dropout": args.dropout, "device": "cpu"}, 0)
    assert isinstance(ours_config, SASRecConfig)
    c = ours_config
    print(f"{args.dataset}: {prepared.train.n_events:,} training events, {prepared.n_items:,} items; "
          f"d {c.hidden_size}, "
          f"{c.blocks} blocks, L {c.max_length}, dropout {c.dropout}, batch {c.batch_size}, {c.epochs} epochs, "
          f"loss {c.loss}, windows {c.windows}", flush=True)
    results: dict[str, list[dict[str, float]]] = {"ours": [], "reference": []}
    for seed in args.seeds:
        for side in ("ours", "reference"):
            if args.only not in (None, side):
                continue
            started = time.perf_counter()
            if side == "ours":
                network = train_sasrec(dataclasses.replace(c, seed=seed), prepared.train).network
                scorer = SASRecStreamScorer(network, "sasrec")
            else:
                model = train_reference(prepared.train, c.epochs, c.hidden_size, c.max_length, c.blocks, c.dropout,
                                        c.batch_size, seed)
                scorer = ReferenceScorer(model, prepared.n_items)  # type: ignore[assignment]
            metrics = evaluate(scorer, prepared.train, prepared.test, SETTINGS).mean_metrics()
            results[side].append(metrics)
            print(f"{side:9s} seed {seed}: recall@5 {metrics['recall@5']:.4f}  mrr@5 {metrics['mrr@5']:.4f}  "
                  f"recall@20 {metrics['recall@20']:.4f}  mrr@20 {metrics['mrr@20']:.4f}  "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    for side, rows in results.items():
        if rows:
            means = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
            spread = {key: float(np.std([row[key] for row in rows])) for key in rows[0]}
            print(f"{side:9s} mean of {len(rows)}: " + "  ".join(
                f"{key} {means[key]:.4f} ± {spread[key]:.4f}" for key in ("recall@5", "mrr@5", "recall@20", "mrr@20")))


if __name__ == "__main__":
    main()
