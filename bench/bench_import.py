"""Import + prepare throughput: a synthetic log of N events written as CSV, then imported into a
fresh workspace (read, sessionize, filter, split, store). Prints wall time per phase and peak RSS.

    python bench/bench_import.py --events 1000000
    python bench/bench_import.py --events 33000000 --format parquet
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
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
from engine.workbench.generating import write_log
from engine.workbench.importing import ImportRequest, import_log


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the log and workspace")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-import-"))
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"log.{args.format}"
    started = time.perf_counter()
    frame = synthetic.generate_log(synthetic.scaled_config(args.events, seed=0))
    write_log(frame, log_path)
    n_events = len(frame)
    del frame
    print(f"generated and wrote {n_events:,} events ({log_path.stat().st_size / 2**20:.0f} MiB {args.format}) "
          f"in {time.perf_counter() - started:.1f} s (not part of the measurement)")

    phases: list[tuple[float, str]] = []

    def progress(fraction: float, message: str) -> None:
        if not phases or phases[-1][1] != message:
            phases.append((time.perf_counter(), message))

    workspace = Workspace(folder / "workspace.sqlite")
    started = time.perf_counter()
    outcome = import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                                  settings=PrepareSettings(min_item_support=5)), progress)
    wall = time.perf_counter() - started
    workspace.close()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"import + prepare of {n_events:,} events: {wall:.2f} s wall ({n_events / wall:,.0f} events/s), "
          f"peak RSS {peak_rss_mib():,.0f} MiB")
    print(f"prepared: {outcome.statistics['events']:,} events, {outcome.statistics['users']:,} users, "
          f"{outcome.statistics['items']:,} items")
    for (start, message), (stop, _) in zip(phases, phases[1:] + [(started + wall, "")], strict=True):
        print(f"  {stop - start:7.2f} s  {message}")


if __name__ == "__main__":
    main()
