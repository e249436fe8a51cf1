"""Peak memory of an import per event: synthetic logs of N events written as CSV (or Parquet), each
imported in a fresh child process (read + encode + prepare + store in SQLite); the child reports
its resident memory before the import (the base: interpreter and libraries) and its peak. By
default the child runs the command line's ``import`` (``--via cli``: the base then holds every
library the command line loads, torch and scipy included); ``--via engine`` calls the use case
alone, as the desktop app's import process does. The figures behind engine.memory's
IMPORT_BASE_BYTES and IMPORT_BYTES_PER_EVENT.

    python bench/bench_read_memory.py --events 200000 1000000 5000000
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger(__name__)
MIB = 2**20


def peak_rss_bytes() -> int:
    """This process's peak resident memory: VmHWM on Linux (ru_maxrss would include the parent's
    memory at the fork before exec), else ru_maxrss (KiB on Linux, bytes on macOS)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure_cli_import(log_path: Path, workspace_path: Path) -> dict[str, float]:
    """In the child: ``python main.py import LOG``; base (every library the command line loads) and
    peak RSS in bytes, wall time in seconds."""
    import contextlib
    import io

    from engine.cli.main import build_parser, main

    build_parser(["import"])  # loads what ``python main.py import`` loads before it reads the log
    base = peak_rss_bytes()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["import", str(log_path), "--workspace", str(workspace_path), "--min-item-support", "5"])
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"the import of {log_path} failed (exit code {code})")
    return {"base": base, "peak": peak_rss_bytes(), "wall": wall}


def measure_import(log_path: Path, workspace_path: Path) -> dict[str, float]:
    """In the child: import ``log_path``; base and peak RSS in bytes, wall time in seconds."""
    from engine.data.preparation import PrepareSettings
    from engine.data.synthetic import SYNTHETIC_MAPPING
    from engine.storage.workspace import Workspace
    from engine.workbench.importing import ImportRequest, import_log

    with Workspace(workspace_path) as workspace:
        base = peak_rss_bytes()
        started = time.perf_counter()
        import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                            settings=PrepareSettings(min_item_support=5)))
        wall = time.perf_counter() - started
    return {"base": base, "peak": peak_rss_bytes(), "wall": wall}


def write_synthetic(n_events: int, path: Path) -> int:
    """Write a seeded synthetic log of about ``n_events`` events (CSV or Parquet, by the file name);
    returns its number of events."""
    from engine.data import synthetic

    frame = synthetic.generate_log(synthetic.scaled_config(n_events, seed=0))
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return len(frame)


def run_child(log_path: Path, workspace_path: Path, via: str) -> dict[str, float]:
    env = {name: value for name, value in os.environ.items() if name != "HRNN_MEMORY_BUDGET"}
    result = subprocess.run([sys.executable, __file__, "--via", via, "--child", str(log_path), str(workspace_path)],
                            env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--via", choices=("cli", "engine"), default="cli",
                        help="import with the command line (default) or the use case alone")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the logs and workspaces")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("LOG", "WORKSPACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure = measure_cli_import if args.via == "cli" else measure_import
        print(json.dumps(measure(*args.child)))
        return
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-read-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    log.info("machine: %s, %d cores, Python %s; import via the %s", platform.processor() or platform.machine(),
             os.cpu_count(), platform.python_version(), "command line" if args.via == "cli" else "use case alone")
    rows = []
    for wanted in args.events:
        log_path = folder / f"log-{wanted}.{args.format}"
        n_events = write_synthetic(wanted, log_path)
        figures = run_child(log_path, folder / f"workspace-{args.via}-{wanted}.sqlite", args.via)
        rows.append((n_events, log_path.stat().st_size, figures))
        log_path.unlink()
    log.info("%12s %10s %8s %9s %9s %12s", "events", "file MiB", "wall s", "base MiB", "peak MiB", "bytes/event")
    for n_events, size, figures in rows:
        per_event = (figures["peak"] - figures["base"]) / n_events
        log.info("%12s %10.0f %8.1f %9.0f %9.0f %12.0f", f"{n_events:,}", size / MIB, figures["wall"],
                 figures["base"] / MIB, figures["peak"] / MIB, per_event)
    if len(rows) >= 2:  # the line through the two largest imports: fixed cost + cost per event
        (small, _, low), (large, _, high) = sorted(rows, key=lambda row: row[0])[-2:]
        slope = (high["peak"] - low["peak"]) / (large - small)
        log.info("peak ~ %.0f MiB + %.0f bytes x events (through the two largest)",
                 (low["peak"] - slope * small) / MIB, slope)


if __name__ == "__main__":
    main()
