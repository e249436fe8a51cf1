"""Deleting a large dataset: a synthetic log of N events imported (the raw log and a dataset of
about N prepared events), a Pop run trained and evaluated on it (its stored ranks), then the
dataset deleted with its run, evaluation and raw log, and the workspace compacted. Prints the wall
time of each step and the file's size (target: a 1M-event dataset deleted in at most 5 s).

    python bench/bench_delete.py                  # a dataset of about 1M events
    python bench/bench_delete.py --events 5000000
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log
from engine.workbench.managing import compact_workspace, delete_dataset, plan_dataset_deletion
from engine.workbench.training import execute_runs, plan_runs


def file_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in (path, path.with_name(f"{path.name}-wal")) if p.exists()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_500_000, help="raw events (1.5M: a dataset of about 1M)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-delete-"))
    log_path = folder / "log.parquet"
    synthetic.generate_log(synthetic.scaled_config(args.events, seed=0)).to_parquet(log_path, index=False)
    workspace_path = folder / "workspace.sqlite"
    with Workspace(workspace_path) as workspace:
        began = time.perf_counter()
        outcome = import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                                      settings=PrepareSettings(min_item_support=5)))
        imported_s = time.perf_counter() - began
        run_ids = plan_runs(workspace, outcome.dataset_id, "pop", [0])
        execute_runs(workspace, run_ids, lambda message: None)
        size_before = file_mib(workspace_path)
        plan = plan_dataset_deletion(workspace, outcome.dataset_id)
        began = time.perf_counter()
        deleted = delete_dataset(workspace, outcome.dataset_id)
        deleted_s = time.perf_counter() - began
        size_after_delete = file_mib(workspace_path)
        compacted = compact_workspace(workspace)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, SQLite workspace")
    print(f"imported {outcome.statistics['events']:,} prepared events (raw log {args.events:,}) in {imported_s:.1f} s; "
          f"workspace {size_before:,.0f} MiB")
    print(f"deleting {plan.what}: {'; '.join(plan.parts)}")
    print(f"deleted in {deleted_s:.2f} s ({deleted.events:,} events, {deleted.runs} run); workspace file "
          f"{size_after_delete:,.0f} MiB until compacted")
    print(f"compacted in {compacted.seconds:.2f} s: {(compacted.bytes_before or 0) / 2**20:,.0f} MiB -> "
          f"{(compacted.bytes_after or 0) / 2**20:,.1f} MiB")


if __name__ == "__main__":
    main()
