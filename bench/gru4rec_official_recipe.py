"""RNN trained with the official GRU4Rec PyTorch code's recipe (preset ``gru4rec-official``:
BPR-max over ELU(0.5), 2048 extra negatives by popularity^0.5, the tied item embedding, lr 0.05,
no momentum, no dropout, batch 100, 100 units) on the synthetic XING-scale log, against the paper's
GRU4Rec 2016 preset (``small``) and, with ``--reference``, against an independent re-implementation
of the official code's training procedure written for this check (autograd, torch's GRUCell as
the official code uses with embeddings, its loss normalisation by the configured batch size, its
row-sparse Adagrad), evaluated by the same evaluator on the same split.

    python bench/gru4rec_official_recipe.py [--epochs 10] [--reference] [--events N] [--seed S]

Prints per-epoch times and recall/MRR@5 and @20 among all items (conservative ties, the default).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch import nn

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace
from engine.training.batching import SessionParallelBatcher
from engine.training.loop import train
from engine.training.presets import preset
from engine.workbench.importing import ImportRequest, import_log

SETTINGS = EvaluationSettings(ks=(5, 20))


class OfficialRecipeNetwork(nn.Module):
    """The official code's model with the tied embedding: an item's input vector is its output
    vector, torch's GRUCell (two bias vectors, reset gate after the recurrent product), a bias per
    item; weights uniform in +-sqrt(6 / (fan_in + fan_out)) per gate block, biases zero."""

    def __init__(self, n_items: int, units: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)

        def uniform(rows: int, cols: int, block: int) -> torch.Tensor:
            bound = math.sqrt(6.0 / (rows + block))
            return (torch.rand(rows, cols, generator=generator) * 2 - 1) * bound

        self.item_vectors = nn.Parameter(uniform(n_items, units, units))  # [n, H]
        self.item_bias = nn.Parameter(torch.zeros(n_items))  # [n]
        self.cell = nn.GRUCell(units, units)
        with torch.no_grad():
            self.cell.weight_ih.copy_(uniform(units, 3 * units, units).T)
            self.cell.weight_hh.copy_(uniform(units, 3 * units, units).T)
            self.cell.bias_ih.zero_()
            self.cell.bias_hh.zero_()

    def step(self, items: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        return self.cell(self.item_vectors[items], hidden)


def train_reference(log: SessionLog, epochs: int, seed: int = 0) -> OfficialRecipeNetwork:
    """The official recipe's training: session-parallel batches of 100 (sessions by start time),
    2048 shared extra negatives drawn by popularity^0.5 at every step, BPR-max on ELU(0.5) scores
    with regularization 1.0, summed over the rows and divided by the configured batch size,
    Adagrad (lr 0.05, eps 1e-6) updating only the item rows a step touched."""
    batch, n_extra, alpha, lr, elu, reg = 100, 2048, 0.5, 0.05, 0.5, 1.0
    net = OfficialRecipeNetwork(log.n_items, 100, seed)
    params = list(net.parameters())
    accumulators = [torch.zeros_like(p) for p in params]
    popularity = np.bincount(log.item, minlength=log.n_items).astype(np.float64) ** alpha
    cdf = torch.tensor(np.cumsum(popularity) / popularity.sum(), dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    batcher = SessionParallelBatcher(batch, "time", "shrink")
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        schedule = batcher.schedule(log, rng)
        hidden = torch.zeros(batch, 100)
        total, rows_total = 0.0, 0
        for t in range(schedule.n_steps):
            pair = schedule.pair_input[t]
            active = pair >= 0
            if active.sum() < 1:
                continue
            slots = torch.from_numpy(np.flatnonzero(active))
            with torch.no_grad():
                starts = torch.from_numpy(schedule.session_start[t][active])
                hidden[slots[starts]] = 0.0
            inputs = torch.from_numpy(log.item[pair[active]])
            targets = torch.from_numpy(log.item[pair[active] + 1])
            extra = torch.searchsorted(cdf, torch.rand(n_extra, generator=generator)).clamp_max(log.n_items - 1)
            columns = torch.cat([targets, extra])
            h = net.step(inputs, hidden[slots].detach())
            scores = h @ net.item_vectors[columns].T + net.item_bias[columns]  # [b, b + 2048]
            y = nn.functional.elu(scores, elu)
            own = torch.eye(*y.shape, dtype=torch.bool)
            weights = torch.softmax(y.masked_fill(own, -math.inf), dim=1)
            positive = y.diagonal().unsqueeze(1)
            per_row = (-torch.log((weights * torch.sigmoid(positive - y)).sum(1) + 1e-24)
                       + reg * (weights * y * y).sum(1))
            loss = per_row.sum() / batch
            net.zero_grad()
            loss.backward()
            with torch.no_grad():
                for param, acc in zip(params, accumulators, strict=True):
                    grad = param.grad
                    if grad is None:
                        continue
                    if param is net.item_vectors or param is net.item_bias:
                        touched = torch.unique(torch.cat([inputs, columns]))
                        acc[touched] += grad[touched] ** 2
                        param[touched] -= lr * grad[touched] / (acc[touched] + 1e-6).sqrt()
                    else:
                        acc += grad ** 2
                        param -= lr * grad / (acc + 1e-6).sqrt()
                hidden[slots] = h.detach()
            total += float(per_row.detach().sum())
            rows_total += len(slots)
        print(f"  reference epoch {epoch}: loss {total / rows_total:.4f} ({time.perf_counter() - started:.0f} s)",
              flush=True)
    return net


class ReferenceScorer:
    """The reference network as the evaluator's StreamScorer (session-based: no history)."""

    history_feed = "none"

    def __init__(self, net: OfficialRecipeNetwork) -> None:
        self.net, self.n_items = net, net.item_vectors.shape[0]

    def reset(self, n_slots: int) -> None:
        self.hidden = torch.zeros(n_slots, self.net.item_vectors.shape[1])

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self.hidden[torch.from_numpy(slots)] = 0.0

    @torch.no_grad()
    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        rows = torch.from_numpy(np.flatnonzero(active))
        self.hidden[torch.from_numpy(np.flatnonzero(active & session_start))] = 0.0
        self.hidden[rows] = self.net.step(torch.from_numpy(items[active]), self.hidden[rows])

    @torch.no_grad()
    def scores(self, slots: np.ndarray) -> torch.Tensor:
        return self.hidden[torch.from_numpy(slots)] @ self.net.item_vectors.T + self.net.item_bias


def report(name: str, result, seconds: float) -> None:
    m = result.metrics
    print(f"{name:<34} ({result.settings.tie_mode} ties) recall@5 {m['recall@5']:.4f}  mrr@5 {m['mrr@5']:.4f}  "
          f"recall@20 {m['recall@20']:.4f}  mrr@20 {m['mrr@20']:.4f}  tied targets {result.ties().tied_share:.2%}  "
          f"(train {seconds:.0f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--events", type=int, default=None, help="a scaled log instead of the XING-scale one")
    parser.add_argument("--seed", type=int, default=0, help="seed of every network's initialization and sampling")
    parser.add_argument("--reference", action="store_true", help="also train the independent re-implementation")
    parser.add_argument("--presets", nargs="*", default=["small", "gru4rec-official"],
                        help="our presets to train (none: only the re-implementation, with --reference)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="gru4rec-recipe-"))
    config = synthetic.scaled_config(args.events) if args.events else synthetic.xing_scale_config()
    log_path = folder / "log.parquet"
    synthetic.generate_log(config).to_parquet(log_path)
    support = synthetic.XING_SCALE_MIN_ITEM_SUPPORT if args.events is None else 5
    with Workspace(folder / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(log_path, mapping=synthetic.SYNTHETIC_MAPPING,
                                                      settings=PrepareSettings(min_item_support=support)))
        data = load_prepared(workspace, outcome.dataset_id)
    print(f"{data.train.n_events:,} training events, {data.train.n_items:,} items, {data.test.n_events:,} test events; "
          f"{args.epochs} epochs, seed {args.seed}, one torch thread")
    for name in args.presets:
        started = time.perf_counter()
        network = train(preset(f"rnn-{name}", epochs=args.epochs, device="cpu", seed=args.seed), data.train).network
        seconds = time.perf_counter() - started
        result = evaluate(RecurrentStreamScorer(network, "rnn"), data.train, data.test, SETTINGS)
        report(f"RNN, {name}", result, seconds)
    if args.reference:
        started = time.perf_counter()
        net = train_reference(data.train, args.epochs, args.seed)
        seconds = time.perf_counter() - started
        report("official recipe, re-implemented", evaluate(ReferenceScorer(net), data.train, data.test, SETTINGS),
               seconds)


if __name__ == "__main__":
    main()
