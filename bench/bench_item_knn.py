"""Item-KNN fit: wall time and peak memory of the blocked co-occurrence product against the former
one-shot full product, on synthetic logs.

    python bench/bench_item_knn.py --events 1000000 5000000
    python bench/bench_item_knn.py --events 33000000 --methods blocked --budget-mib 1024

For each size the project's generator (``scaled_config``) makes a log, cut into sessions at idle
gaps over 30 minutes, every event used for training (no item-support filter). Each method then fits
in a fresh process (so ``ru_maxrss`` is its own peak) that first loads the log; "fit MiB" is that
peak minus the RSS after loading (the parent's generation is not counted). "full" is the
implementation before blocking (``occurs.T @ occurs`` in one go, then one sort of every entry);
both methods must give the identical matrix: the digests of its arrays are compared.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.baselines.item_knn import session_cosine_similarity
from engine.data import synthetic
from engine.data.session_log import SessionLog

SESSION_GAP_S = 1800.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mib() -> float:
    """The resident memory now (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def synthetic_session_log(n_events: int, seed: int = 0) -> SessionLog:
    """A generated log of about ``n_events`` events as a SessionLog: dense item codes, a new session
    at every user change or idle gap over 30 minutes."""
    frame = synthetic.generate_log(synthetic.scaled_config(n_events, seed))
    user = frame["user_id"].to_numpy()
    time_s = frame["timestamp"].to_numpy().astype(np.float64)
    _, item = np.unique(frame["item_id"].to_numpy(), return_inverse=True)
    new_session = np.r_[True, (user[1:] != user[:-1]) | (np.diff(time_s) > SESSION_GAP_S)]
    return SessionLog.from_arrays(user, np.cumsum(new_session), item, time_s, int(user.max()) + 1,
                                  int(item.max()) + 1)


def full_product_similarity(train: SessionLog, n_neighbors: int = 300) -> sp.csr_matrix:
    """The Item-KNN fit before blocking: the whole item x item product, then one sort of it."""
    n_items = train.n_items
    occurs = sp.csr_matrix(
        (np.ones(train.n_events, dtype=np.float32), (train.session, train.item)),
        shape=(train.n_sessions, n_items),
    )
    occurs.sum_duplicates()
    occurs.data[:] = 1.0
    co = (occurs.T @ occurs).tocoo()
    sessions_with = np.asarray(occurs.sum(axis=0), dtype=np.float64).ravel()
    off_diagonal = co.row != co.col
    row, col, both = co.row[off_diagonal], co.col[off_diagonal], co.data[off_diagonal]
    sim = both / np.sqrt(sessions_with[row] * sessions_with[col])
    order = np.lexsort((col, -sim, row))
    row, col, sim = row[order], col[order], sim[order]
    row_start = np.searchsorted(row, np.arange(n_items))
    keep = np.arange(len(row)) - row_start[row] < n_neighbors
    return sp.csr_matrix(
        (sim[keep].astype(np.float32), (row[keep], col[keep])), shape=(n_items, n_items),
    )


def digest(matrix: sp.csr_matrix) -> str:
    """A short hash of the CSR arrays (equal matrices, equal digests)."""
    h = hashlib.sha256()
    for array in (matrix.indptr, matrix.indices, matrix.data):
        h.update(array.dtype.str.encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:12]


def save_log(log: SessionLog, folder: Path) -> None:
    """The log's arrays as .npy files in ``folder`` (read back without a second copy)."""
    folder.mkdir()
    for name in ("user", "session", "item", "time"):
        np.save(folder / f"{name}.npy", getattr(log, name))
    (folder / "sizes.json").write_text(json.dumps([log.n_users, log.n_items]))


def load_log(folder: Path) -> SessionLog:
    arrays = [np.load(folder / f"{name}.npy") for name in ("user", "session", "item", "time")]
    return SessionLog(*arrays, *json.loads((folder / "sizes.json").read_text()))


def child(method: str, log_folder: Path, n_neighbors: int, budget_mib: int) -> None:
    """Load the log, fit with ``method`` and print one JSON line of figures."""
    log = load_log(log_folder)
    log.session_offsets  # noqa: B018  (cached before the measurement)
    loaded = rss_mib()
    started = time.perf_counter()
    if method == "full":
        matrix = full_product_similarity(log, n_neighbors)
    else:
        matrix = session_cosine_similarity(log, n_neighbors, memory_budget_bytes=budget_mib << 20)
    wall = time.perf_counter() - started
    print(json.dumps({"wall": wall, "peak": peak_rss_mib(), "loaded": loaded, "nnz": int(matrix.nnz),
                      "digest": digest(matrix)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--methods", nargs="+", choices=("full", "blocked"), default=["full", "blocked"])
    parser.add_argument("--neighbors", type=int, default=300)
    parser.add_argument("--budget-mib", type=int, default=1024, help="memory budget of one block (blocked)")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.neighbors, args.budget_mib)
        return

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
          f"n_neighbors {args.neighbors}, block budget {args.budget_mib} MiB")
    print(f"{'events':>11} {'sessions':>10} {'items':>10} {'method':>8} {'fit s':>7} {'peak MiB':>9} "
          f"{'fit MiB':>8} {'kept':>11}  digest")
    with tempfile.TemporaryDirectory(prefix="bench-item-knn-") as folder:
        for n_events in args.events:
            log = synthetic_session_log(n_events)
            log_path = Path(folder) / f"log-{n_events}"
            save_log(log, log_path)
            digests = set()
            for method in args.methods:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", method, str(log_path), "--neighbors", str(args.neighbors),
                     "--budget-mib", str(args.budget_mib)], capture_output=True, text=True)
                if done.returncode != 0:
                    last_line = (done.stderr.strip().splitlines() or ["killed?"])[-1]
                    print(f"{log.n_events:>11,} {method:>8} failed (exit {done.returncode}): {last_line}")
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{log.n_events:>11,} {log.n_sessions:>10,} {log.n_items:>10,} {method:>8} {r['wall']:>7.1f} "
                      f"{r['peak']:>9,.0f} {r['peak'] - r['loaded']:>8,.0f} {r['nnz']:>11,}  {r['digest']}", flush=True)
                digests.add(r["digest"])
            if len(digests) > 1:
                print("MISMATCH: the methods gave different matrices")


if __name__ == "__main__":
    main()
