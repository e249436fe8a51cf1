"""One prepared GPU run: checks training and evaluation on CUDA against the CPU, then measures.

Usage (on a machine with a CUDA GPU; needs only torch, numpy, pandas and scipy)::

    PYTHONUNBUFFERED=1 python3 bench/gpu_check.py [--out DIR] [--quick]

1. Checks, on a tiny log, for RNN, RNN Concat, HRNN Init and HRNN All:
   - without randomness (no dropout, no extra negatives), two epochs on CUDA match the CPU
     (losses and weights within float32 tolerance), with and without CUDA graphs, and the
     graphed run really replayed a captured graph;
   - with dropout, extra negatives and momentum, a graphed run repeated with the same seed gives
     the same loss curve, and graphed and eager CUDA runs of one seed both learn (they draw from
     the same generator; whether their curves are equal is reported, not required);
   - the ranks an evaluation computes on CUDA equal those on the CPU (ties aside).
   For SASRec (every loss) and its twin:
   - without randomness (no dropout, the full cross-entropy: nothing sampled), two epochs on CUDA
     match the CPU (losses and weights within float32 tolerance);
   - with dropout and each sampled loss, a run repeated with the same seed gives the same loss
     curve and learns;
   - its evaluation ranks on CUDA equal those on the CPU (ties aside), and the attention that
     Inspection shows sums to 1 on CUDA.
2. Measures one epoch of each network of the paper (RNN, HRNN Init, HRNN All; small and large;
   batch 100) on a random log at XING scale (about 550k events, 58k items) through ``train()``,
   with CUDA graphs (two epochs: the first includes the capture) and without (one epoch), and the
   evaluation of HRNN Init small at XING scale on CUDA. The target: an epoch of HRNN large
   in <= 3 s. Then an epoch of SASRec (defaults: sampled cross-entropy; and the full
   cross-entropy) and its evaluation on the same logs.

Writes ``gpu_check.json`` and ``gpu_check.md`` (lines for BENCHMARKS.md) to ``--out`` (default:
$OUT when set, else the current folder). Exits 1 when a check fails (the measurements still run).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.bench_evaluation import neural_scorer, random_split
from bench.bench_training import synthetic_log
from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.runs.models import MODELS as REGISTERED_MODELS
from engine.training import loop
from engine.training.config import TrainConfig
from engine.training.presets import preset
from engine.training.sasrec_config import SASRecConfig
from engine.training.sasrec_training import train_sasrec
from engine.training.step_runner import GraphedSteps, make_step_runner

#: The recurrent networks (SASRec and its twin are checked apart): every registered model trained with a TrainConfig.
MODELS = tuple(entry.name for entry in REGISTERED_MODELS if entry.config_type is TrainConfig)
DEVICE = "cuda"  # --device cpu: a dry run of the script's plumbing on a machine without a GPU
LOSS_RTOL = 1e-4
WEIGHT_ATOL = 1e-4


def tiny_log(n_users: int = 24, n_items: int = 40, sessions: int = 5, seed: int = 0) -> SessionLog:
    """Sessions of 3-7 events of random items, several sessions per user."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 8, size=n_users * sessions)
    session_user = np.repeat(np.arange(n_users), sessions)
    user = np.repeat(session_user, lengths)
    session = np.repeat(np.arange(len(lengths)), lengths)
    item = rng.integers(0, n_items, size=len(user))
    return SessionLog.from_arrays(user, session, item, np.arange(len(user), dtype=float), n_users, n_items)


class Recorder:
    """Wraps ``make_step_runner`` to keep the runner a ``train()`` call used."""

    def __init__(self) -> None:
        self.runners: list = []

    def __call__(self, step, graph_steps):
        runner = make_step_runner(step, graph_steps)
        self.runners.append(runner)
        return runner


def trained(config: TrainConfig, log: SessionLog):
    recorder = Recorder()
    loop.make_step_runner = recorder
    try:
        result = loop.train(config, log)
    finally:
        loop.make_step_runner = make_step_runner
    runner = recorder.runners[-1]
    graphed = isinstance(runner, GraphedSteps) and runner.captured and not runner.failed
    return result, graphed


def weights(result) -> torch.Tensor:
    net = result.network
    return torch.cat([net.dense.data.flatten(), net.item_in.data.flatten(), net.item_out.data.flatten()]).cpu()


def check_training(report: dict) -> bool:
    ok = True
    log = tiny_log()
    for model in MODELS:
        base = TrainConfig(model=model, session_units=32, user_units=32, batch_size=8, epochs=2,
                           dropout_session=0.0, learning_rate=0.05, momentum=0.2, seed=1, cuda_graph_steps=4)
        cpu, _ = trained(dataclasses.replace(base, device="cpu"), log)
        eager, eager_graphed = trained(dataclasses.replace(base, device=DEVICE, cuda_graph_steps=0), log)
        graph, graphed = trained(dataclasses.replace(base, device=DEVICE), log)
        row = {
            "cpu_losses": cpu.epoch_losses, "cuda_eager_losses": eager.epoch_losses,
            "cuda_graph_losses": graph.epoch_losses, "graph_captured": graphed,
            "eager_vs_cpu_max_weight_diff": float((weights(eager) - weights(cpu)).abs().max()),
            "graph_vs_eager_max_weight_diff": float((weights(graph) - weights(eager)).abs().max()),
        }
        row["ok"] = bool(
            graphed == (DEVICE == "cuda") and not eager_graphed
            and np.allclose(eager.epoch_losses, cpu.epoch_losses, rtol=LOSS_RTOL)
            and np.allclose(graph.epoch_losses, eager.epoch_losses, rtol=LOSS_RTOL)
            and row["eager_vs_cpu_max_weight_diff"] < WEIGHT_ATOL
            and row["graph_vs_eager_max_weight_diff"] < WEIGHT_ATOL)
        ok &= row["ok"]
        busy = dataclasses.replace(base, device=DEVICE, dropout_session=0.3, dropout_user=0.1, dropout_init=0.2,
                                   n_extra_negatives=6, epochs=4)
        busy_eager, _ = trained(dataclasses.replace(busy, cuda_graph_steps=0), log)
        busy_graph, busy_graphed = trained(busy, log)
        row["random_eager_losses"] = busy_eager.epoch_losses
        row["random_graph_losses"] = busy_graph.epoch_losses
        row["random_identical"] = busy_eager.epoch_losses == busy_graph.epoch_losses
        learns = [r.epoch_losses[-1] < r.epoch_losses[0] for r in (busy_eager, busy_graph)]
        again, _ = trained(busy, log)
        row["random_repeatable"] = again.epoch_losses == busy_graph.epoch_losses  # same seed, same curve
        row["random_ok"] = bool(busy_graphed == (DEVICE == "cuda") and all(learns) and row["random_repeatable"]
                                and np.all(np.isfinite(busy_graph.epoch_losses)))
        ok &= row["random_ok"]
        report.setdefault("checks", {})[model] = row
        print(f"check {model:10s} cpu/eager/graph agree: {row['ok']} (graph captured: {graphed}); "
              f"with randomness: learns {learns}, "
              f"repeatable {row['random_repeatable']}, graph = eager {row['random_identical']}", flush=True)
    return ok


def check_evaluation(report: dict) -> bool:
    log = tiny_log(seed=3)
    config = TrainConfig(model="hrnn-init", session_units=32, user_units=32, batch_size=8, epochs=2,
                         dropout_session=0.0, device="cpu", seed=2)
    result = loop.train(config, log)
    test = tiny_log(seed=4)
    ranks = {}
    for device in ("cpu", DEVICE):
        scorer = RecurrentStreamScorer(result.network.to(device), config.model)
        ranks[device] = evaluate(scorer, log, test, EvaluationSettings(ks=(5, 10), batch_size=16)).rank
    same = float(np.mean(np.asarray(ranks["cpu"]) == np.asarray(ranks[DEVICE])))
    report["evaluation_rank_agreement"] = same
    print(f"check evaluation: {same:.4f} of the CUDA ranks equal the CPU ranks", flush=True)
    return same >= 0.99


def sasrec_weights(result) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in result.network.parameters()]).cpu()


def check_sasrec(report: dict) -> bool:
    """SASRec and its twin on CUDA against the CPU, repeatability with randomness, ranks and attention."""
    from engine.models.sasrec_scorer import SASRecStreamScorer

    ok = True
    log = tiny_log()
    for model in ("sasrec", "sasrec-session"):
        base = SASRecConfig(model=model, hidden_size=32, blocks=2, heads=2, max_length=10, batch_size=8, epochs=2,
                            dropout=0.0, loss="cross-entropy", context="time_gap", learning_rate=0.001, seed=1)
        cpu = train_sasrec(dataclasses.replace(base, device="cpu"), log)
        cuda = train_sasrec(dataclasses.replace(base, device=DEVICE), log)
        row = {"cpu_losses": cpu.epoch_losses, "cuda_losses": cuda.epoch_losses,
               "max_weight_diff": float((sasrec_weights(cuda) - sasrec_weights(cpu)).abs().max())}
        # Adam's steps are about lr in size whatever the gradient's: a weight whose gradient is near 0
        # may move a step apart on the two devices, so weights agree to a few steps, losses closely
        row["ok"] = bool(np.allclose(cuda.epoch_losses, cpu.epoch_losses, rtol=10 * LOSS_RTOL)
                         and row["max_weight_diff"] < 10 * base.learning_rate)
        for loss in ("sampled-cross-entropy", "bce", "gbce"):
            busy = dataclasses.replace(base, device=DEVICE, dropout=0.3, loss=loss, negatives=16, epochs=4,
                                       negative_sampling="popularity")
            first, again = train_sasrec(busy, log), train_sasrec(busy, log)
            row[f"{loss}_losses"] = first.epoch_losses
            row[f"{loss}_ok"] = bool(first.epoch_losses == again.epoch_losses
                                     and first.epoch_losses[-1] < first.epoch_losses[0]
                                     and np.all(np.isfinite(first.epoch_losses)))
            row["ok"] &= row[f"{loss}_ok"]
        test = tiny_log(seed=4)
        ranks = {}
        for device in ("cpu", DEVICE):
            scorer = SASRecStreamScorer(cpu.network.to(device), model)
            ranks[device] = evaluate(scorer, log, test, EvaluationSettings(ks=(5, 10), batch_size=16)).rank
        row["rank_agreement"] = float(np.mean(np.asarray(ranks["cpu"]) == np.asarray(ranks[DEVICE])))
        scorer = SASRecStreamScorer(cpu.network.to(DEVICE), model)
        scorer.reset(1)
        for item in range(12):
            scorer.consume(np.array([item]), np.array([item == 0]), np.array([True]))
        row["attention_sum"] = float(scorer.attention(0).sum())
        row["ok"] &= row["rank_agreement"] >= 0.99 and abs(row["attention_sum"] - 1.0) < 1e-5
        ok &= row["ok"]
        report.setdefault("checks", {})[model] = row
        print(f"check {model:14s} cpu/cuda agree, sampled losses repeatable and learning, ranks "
              f"{row['rank_agreement']:.4f}, attention sum {row['attention_sum']:.6f}: {row['ok']}", flush=True)
    return ok


def measure_sasrec(report: dict, scale: float) -> list[str]:
    """An epoch of SASRec (the defaults, and the full cross-entropy) and the twin on the XING-sized
    random log, and SASRec's evaluation on the random split at the same scale."""
    from engine.models.sasrec_scorer import SASRecStreamScorer

    log = synthetic_log(int(6800 * scale), int(58000 * scale), 0)
    lines = ["", f"| SASRec ({DEVICE}) | epoch 1 s | epoch 2 s | pairs/s (last epoch) |", "| --- | --- | --- | --- |"]
    for model, loss in (("sasrec", "sampled-cross-entropy"), ("sasrec", "cross-entropy"),
                        ("sasrec-session", "sampled-cross-entropy")):
        config = SASRecConfig(model=model, loss=loss, epochs=2, device=DEVICE)
        result = train_sasrec(config, log)
        rate = result.pairs_per_epoch / result.epoch_seconds[-1]
        report.setdefault("sasrec_training", []).append({"model": model, "loss": loss,
                                                         "epoch_seconds": result.epoch_seconds,
                                                         "losses": result.epoch_losses})
        line = f"| {model}, {loss} | {result.epoch_seconds[0]:.2f} | {result.epoch_seconds[1]:.2f} | {rate:,.0f} |"
        lines.append(line)
        print(line, flush=True)
    train, test = random_split(scale, 0)
    network = train_sasrec(SASRecConfig(epochs=1, device=DEVICE), train).network
    scorer = SASRecStreamScorer(network, "sasrec")
    settings = EvaluationSettings(ks=(5, 10, 20), batch_size=256)
    evaluate(scorer, train, test.select_sessions(np.arange(test.n_sessions) < 200), settings)  # warm-up
    result = evaluate(scorer, train, test, settings)
    report["sasrec_evaluation"] = {"seconds": result.seconds, "predictions": result.n_events}
    lines += ["", f"| SASRec evaluation ({DEVICE}) | seconds | predictions/s |", "| --- | --- | --- |",
              f"| sasrec | {result.seconds:.2f} | {result.n_events / result.seconds:,.0f} |"]
    print(lines[-1], flush=True)
    return lines


def measure_training(report: dict, quick: bool, scale: float) -> list[str]:
    log = synthetic_log(int(6800 * scale), int(58000 * scale), 0)
    n_pairs = int(np.sum(log.session_length - 1))
    per_pair = log.n_events / n_pairs
    report["log"] = {"events": log.n_events, "pairs": n_pairs, "users": log.n_users, "items": log.n_items}
    lines = [f"log: {log.n_events:,} events, {log.n_users:,} users, {log.n_items:,} items", "",
             "| model | graphs | epoch 1 s | epoch 2 s | events/s (last epoch) |", "| --- | --- | --- | --- | --- |"]
    names = ["hrnn-init-large"] if quick else ["rnn-small", "hrnn-init-small", "hrnn-all-small", "rnn-large",
                                               "hrnn-init-large", "hrnn-all-large"]
    for name in names:
        for graph_steps in (16, 0):
            epochs = 2 if graph_steps else 1  # graphs: the second epoch is the one without the capture
            config = preset(name, batch_size=100, device=DEVICE, epochs=epochs, cuda_graph_steps=graph_steps)
            result, graphed = trained(config, log)
            first, second = result.epoch_seconds[0], result.epoch_seconds[-1]
            rate = result.pairs_per_epoch / second * per_pair
            report.setdefault("training", []).append({
                "model": name, "cuda_graph_steps": graph_steps, "graph_captured": graphed,
                "epoch_seconds": result.epoch_seconds, "events_per_second": rate, "losses": result.epoch_losses})
            failed = not graphed and graph_steps and DEVICE == "cuda"
            label = f"{graph_steps} steps" + (" (capture FAILED)" if failed else "")
            second_text = f"{second:.2f}" if graph_steps else "-"
            line = f"| {name} | {label if graph_steps else 'no'} | {first:.2f} | {second_text} | {rate:,.0f} |"
            lines.append(line)
            print(line, flush=True)
    return lines


def measure_evaluation(report: dict, scale: float) -> list[str]:
    train, test = random_split(scale, 0)
    settings = EvaluationSettings(ks=(5, 10, 20), batch_size=256)
    lines = ["", f"| evaluation (XING scale x {scale:g}, {DEVICE}) | seconds | predictions/s |", "| --- | --- | --- |"]
    for name in ("rnn-small", "hrnn-init-small", "hrnn-init-large"):
        scorer = neural_scorer(name, train.n_items, DEVICE)
        evaluate(scorer, train, test.select_sessions(np.arange(test.n_sessions) < 200), settings)  # warm-up
        result = evaluate(scorer, train, test, settings)
        report.setdefault("evaluation", []).append({"model": name, "seconds": result.seconds,
                                                    "predictions": result.n_events})
        line = f"| {name} | {result.seconds:.2f} | {result.n_events / result.seconds:,.0f} |"
        lines.append(line)
        print(line, flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--quick", action="store_true", help="measure HRNN Init large only")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the XING-sized logs")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="cpu: a dry run of the plumbing (no graphs are expected)")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 2
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else platform.processor() or "cpu"
    report: dict = {"torch": torch.__version__, "device": name,
                    "python": platform.python_version(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"torch {report['torch']} on {report['device']}", flush=True)
    started = time.perf_counter()
    ok = True
    for check in (check_training, check_evaluation, check_sasrec):
        try:
            ok &= check(report)
        except Exception as exc:  # noqa: BLE001 - report and go on to the measurements
            ok = False
            report.setdefault("errors", []).append(f"{check.__name__}: {type(exc).__name__}: {exc}")
            print(f"{check.__name__} FAILED: {type(exc).__name__}: {exc}", flush=True)
    lines = [f"GPU: {report['device']}, torch {report['torch']}", ""]
    lines += measure_training(report, args.quick, args.scale)
    lines += measure_evaluation(report, args.scale)
    lines += measure_sasrec(report, args.scale)
    report["checks_ok"] = ok
    report["seconds"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print(f"checks {'passed' if ok else 'FAILED'}; {report['seconds']:.0f} s; written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
