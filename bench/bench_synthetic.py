"""Time and peak memory of the synthetic log generator.

Usage: ``python bench/bench_synthetic.py --events 1000000`` (or ``--preset demo|xing_scale``).
Prints the generation time in seconds and the process's peak resident memory in MiB.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.data.synthetic import GENERATOR_PRESETS, generate_log, scaled_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--events", type=int, help="approximate number of events to generate")
    size.add_argument("--preset", choices=sorted(GENERATOR_PRESETS), help="a named preset instead of a size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    config = GENERATOR_PRESETS[args.preset](args.seed) if args.preset else scaled_config(args.events, args.seed)
    started = time.perf_counter()
    log = generate_log(config)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    frame_mib = log.memory_usage(index=False, deep=True).sum() / 2**20
    print(f"events       {len(log):,} (users {config.n_users:,}, items {config.n_items:,})")
    print(f"generation   {elapsed:.2f} s ({len(log) / elapsed / 1e6:.2f} M events/s)")
    print(f"frame        {frame_mib:,.0f} MiB")
    print(f"peak RSS     {peak_kib / 1024:,.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
