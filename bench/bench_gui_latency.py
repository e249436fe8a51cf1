"""GUI responsiveness: the event loop's lateness (a QTimer probe every 10 ms records how late each
tick fires) while the main window is idle, while it imports a synthetic log in the background, and
while a run trains in the child process. Prints p50 / p99 / max lateness per phase (target: p99
<= 50 ms). Runs offscreen when there is no display.

    python bench/bench_gui_latency.py                       # 1M-event import, HRNN Init 2 epochs
    python bench/bench_gui_latency.py --events 300000 --model rnn --epochs 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QSettings, Qt, QTimer, Slot
from PySide6.QtWidgets import QApplication

from app.appearance import apply_appearance
from app.main_window import MainWindow
from app.settings import AppSettings
from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING
from engine.runs.models import model_entry
from engine.runs.planning import plan_runs
from engine.workbench.generating import write_log
from engine.workbench.importing import ImportRequest

PROBE_INTERVAL_MS = 10


class LatencyProbe(QObject):
    """Fires every 10 ms on the GUI thread and records how late each tick is (milliseconds)."""

    def __init__(self) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self.lateness_ms: list[float] = []

    def start(self) -> None:
        self.lateness_ms = []
        self._clock.start()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return self.lateness_ms

    @Slot()
    def _tick(self) -> None:
        elapsed = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        self.lateness_ms.append(max(0.0, elapsed - PROBE_INTERVAL_MS))


def wait(until, timeout_s: float) -> None:
    """Run the event loop until ``until()`` is true (checked every 20 ms) or the timeout passes."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    check = QTimer()
    check.setInterval(20)
    check.timeout.connect(lambda: loop.quit() if until() or time.monotonic() > deadline else None)
    check.start()
    loop.exec()
    check.stop()
    if not until():
        raise TimeoutError(f"gave up after {timeout_s:.0f} s")


def summary(name: str, lateness: list[float], seconds: float) -> dict[str, float | str | int]:
    values = np.asarray(lateness) if lateness else np.zeros(1)
    return {"phase": name, "seconds": round(seconds, 1), "ticks": len(lateness),
            "p50_ms": round(float(np.percentile(values, 50)), 1), "p99_ms": round(float(np.percentile(values, 99)), 1),
            "max_ms": round(float(values.max()), 1)}


def measure(name: str, probe: LatencyProbe, start, done, timeout_s: float) -> dict:
    probe.start()
    began = time.monotonic()
    start()
    wait(done, timeout_s)
    return summary(name, probe.stop(), time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the imported synthetic log")
    parser.add_argument("--model", default="hrnn-init", help="model trained during the training phase")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings"))
    app = QApplication(sys.argv)
    apply_appearance(app)
    log_path = folder / f"synthetic-{args.events}.csv"
    write_log(synthetic.generate_log(synthetic.scaled_config(args.events, seed=0)), log_path)

    window = MainWindow(AppSettings(), folder / "workspace.sqlite", create_demo=True)
    window.resize(1280, 800)
    window.show()
    wait(lambda: window.data_panel.explorer.last_figures is not None and not window.jobs.running_jobs(), 120)
    probe = LatencyProbe()
    results = [measure("idle", probe, lambda: None, lambda: probe.lateness_ms and len(probe.lateness_ms) >= 200, 30)]

    request = ImportRequest(log_path, mapping=SYNTHETIC_MAPPING, settings=PrepareSettings(min_item_support=5),
                            name="bench import")
    results.append(measure(f"import {args.events:,} events", probe, lambda: window.import_flow.start_import(request),
                           lambda: not window.jobs.running_jobs(), 1800))

    demo_id = window.browser.dataset_ids()[0]
    overrides = {"epochs": args.epochs} if model_entry(args.model).neural else {}
    window.tabs.setCurrentWidget(window.training_panel)
    window.training_panel.select_dataset(demo_id)

    def start_training() -> None:
        window.queue.enqueue(plan_runs(window.workspace, demo_id, args.model, [0], "small", overrides, "cpu"))

    results.append(measure(f"training {args.model} ({args.epochs} epochs, demo dataset)", probe, start_training,
                           lambda: not window.queue.busy(), 1800))
    window.close()
    print(f"GUI event-loop lateness (QTimer probe every {PROBE_INTERVAL_MS} ms), {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Qt platform {app.platformName()}")
    print(f"{'phase':48} {'seconds':>8} {'ticks':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for row in results:
        print(f"{row['phase']:48} {row['seconds']:>8} {row['ticks']:>7} {row['p50_ms']:>7} {row['p99_ms']:>7} "
              f"{row['max_ms']:>7}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
