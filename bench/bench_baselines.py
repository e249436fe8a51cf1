"""Fit and evaluation time, recall@20 and peak memory of the session-based baselines (SKNN, V-SKNN,
STAN, SR, Markov) and their session-aware variants, one model at a time on one torch thread.

    python bench/bench_baselines.py                               # XING scale, every model
    python bench/bench_baselines.py --models v-sknn stan sr --repeat 2
    python bench/bench_baselines.py --events 33000000 --models v-sknn stan sr [--evaluate-users 2000]

XING scale: the generator's ``xing_scale_config`` log (about 760k raw events) prepared with the
paper's one-pass filters (item support >= 3, sessions >= 3 events, users >= 5 sessions) into about
465k training events, 58k items and 11.5k test sessions; each model is fitted with its default
preset and evaluated on the full test split, every target ranked among all items ("history
feeding included": the session-aware variants read the users' training sessions from the fit and
the evaluator feeds only the test session, as in the product).

``--events N``: a generated log of about N events (``scaled_config``), prepared with item support
>= 5 as ``bench_scale.py`` does. The SessionLogs are built directly from the generator's output
(reading, sessionizing, filtering and splitting with the engine's functions, without storing a
workspace). Each model is fitted; with ``--evaluate-users U`` the test sessions of the first U
users are then evaluated among the ``--candidates`` most popular items plus the target.

Every model runs in a fresh process that first loads the logs (``fit MiB``: its peak resident
memory while fitting minus its resident memory after loading), with
``OMP_WAIT_POLICY=PASSIVE`` and one torch thread; the peak is restarted after loading, so ``peak
MiB`` is the most the process held while fitting and evaluating. Figures are the best of ``--repeat`` runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np
import scipy
import torch

from engine.data import synthetic
from engine.data.preparation import PrepareSettings, prepare_events
from engine.data.raw_log import build_raw_log
from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.runs.models import MODELS, model_names
from engine.storage.catalog import prepared_dataset

ALL_MODELS = model_names("baseline")
LOG_ARRAYS = ("user", "session", "item", "time")


def peak_rss_mib() -> float:
    """The process's peak resident memory (Linux VmHWM; ``ru_maxrss`` would keep the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Restart the peak at the current resident memory (Linux >= 4.0; silently kept otherwise)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def prepare(n_events: int | None) -> tuple[SessionLog, SessionLog]:
    """(train, test) of the XING-scale log (``n_events`` None) or of a log of about ``n_events``."""
    if n_events is None:
        config, support = synthetic.xing_scale_config(0), synthetic.XING_SCALE_MIN_ITEM_SUPPORT
    else:
        config, support = synthetic.scaled_config(n_events, 0), 5
    frame = synthetic.generate_log(config)
    raw, _ = build_raw_log(Path("generated"), frame, synthetic.SYNTHETIC_MAPPING)
    del frame
    events = prepare_events(raw, PrepareSettings(min_item_support=support))
    columns = {"user": events.user, "session": events.session, "item": events.item, "time": events.time,
               "split": events.split, "valid_split": events.valid_split}
    prepared = prepared_dataset(columns, raw.user_ids, raw.item_ids)
    return prepared.train, prepared.test


def save_log(log: SessionLog, folder: Path) -> None:
    folder.mkdir()
    for name in LOG_ARRAYS:
        np.save(folder / f"{name}.npy", getattr(log, name))
    (folder / "sizes.json").write_text(json.dumps([log.n_users, log.n_items]))


def load_log(folder: Path) -> SessionLog:
    return SessionLog(*(np.load(folder / f"{name}.npy") for name in LOG_ARRAYS),
                      *json.loads((folder / "sizes.json").read_text()))


def child(model: str, folder: Path, evaluate_users: int | None, candidates: int | None, batch_size: int) -> None:
    """Load the logs, fit ``model`` with its default preset, evaluate, print one JSON line."""
    torch.set_num_threads(1)
    train, test = load_log(folder / "train"), load_log(folder / "test")
    train.session_offsets, train.user_session_offsets, test.session_offsets  # noqa: B018  (cached before)
    loaded = rss_mib()
    reset_peak()
    entry = MODELS[model]
    started = time.perf_counter()
    scorer = entry.fit(entry.presets[entry.default_preset], train, "cpu")
    fit_s = time.perf_counter() - started
    fit_peak = peak_rss_mib()
    figures = {"fit_s": fit_s, "fit_mib": fit_peak - loaded, "loaded_mib": loaded}
    if evaluate_users != 0:
        if evaluate_users is not None:
            test = test.select_sessions(test.session_user < evaluate_users)
        result = evaluate(scorer, train, test, EvaluationSettings(ks=(20,), n_candidates=candidates,
                                                                  batch_size=batch_size))
        figures.update(eval_s=result.seconds, predictions=result.n_events, recall=result.metrics["recall@20"],
                       mrr=result.metrics["mrr@20"])
    figures["peak_mib"] = peak_rss_mib()
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(ALL_MODELS), choices=list(MODELS.names()))
    parser.add_argument("--events", type=int, default=None,
                        help="a generated log of about N events instead of XING scale")
    parser.add_argument("--evaluate-users", type=int, default=None,
                        help="with --events: evaluate the test sessions of the first U users (default: fit only)")
    parser.add_argument("--candidates", type=int, default=None,
                        help="rank among the N most popular items plus the target (default: all items; "
                             "50,000 with --events)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=1, help="runs per model; the best is shown")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.evaluate_users, args.candidates, args.batch_size)
        return
    scale = args.events is not None
    evaluate_users = (args.evaluate_users or 0) if scale else None
    candidates = args.candidates if args.candidates is not None or not scale else 50_000

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__}; "
          f"one torch thread, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}", flush=True)
    started = time.perf_counter()
    train, test = prepare(args.events)
    print(f"log: {'XING scale' if not scale else f'{args.events:,} generated events'}, prepared in "
          f"{time.perf_counter() - started:.0f} s (peak {peak_rss_mib():,.0f} MiB): train {train.n_events:,} events, "
          f"{train.n_sessions:,} sessions, {train.n_items:,} items; test {test.n_events:,} events in "
          f"{test.n_sessions:,} sessions; ranked among "
          f"{'all items' if candidates is None else f'{candidates:,} candidates'}, conservative ties",
          flush=True)
    print(f"{'model':12} {'fit s':>7} {'eval s':>7} {'total s':>8} {'predictions':>11} {'recall@20':>9} "
          f"{'mrr@20':>7} {'fit MiB':>8} {'peak MiB':>9}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-baselines-") as folder:
        save_log(train, Path(folder) / "train")
        save_log(test, Path(folder) / "test")
        del train, test
        for model in args.models:
            runs = []
            for _ in range(args.repeat):
                command = [sys.executable, __file__, "--child", model, folder, "--batch-size", str(args.batch_size)]
                if evaluate_users is not None:
                    command += ["--evaluate-users", str(evaluate_users)]
                if candidates is not None:
                    command += ["--candidates", str(candidates)]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    last_line = (done.stderr.strip().splitlines() or ["killed?"])[-1]
                    print(f"{model:12} failed (exit {done.returncode}): {last_line}", flush=True)
                    break
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            if not runs:
                continue
            best = min(runs, key=lambda r: r["fit_s"] + r.get("eval_s", 0.0))
            evaluated = "eval_s" in best
            eval_columns = (f"{best['eval_s']:>7.1f} {best['fit_s'] + best['eval_s']:>8.1f} {best['predictions']:>11,} "
                            f"{best['recall']:>9.4f} {best['mrr']:>7.4f}" if evaluated
                            else f"{'':>7} {'':>8} {'':>11} {'':>9} {'':>7}")
            print(f"{model:12} {best['fit_s']:>7.2f} " + eval_columns
                  + f" {best['fit_mib']:>8,.0f} {best['peak_mib']:>9,.0f}", flush=True)


if __name__ == "__main__":
    main()
