"""GUI responsiveness: how late the event loop answers (a QTimer probe every 10 ms records how late
each tick fires: a late tick is a stall of the window) through the flows a user goes through, on
the main window at 1280 x 720, offscreen when there is no display:

- idle;
- import of MovieLens 100K (../shared/data; a synthetic log of 100,000 events where it is absent),
  until everything it sets off is done (the new dataset selected, its log explored, Results and
  Inspection read);
- training: a run's start, its epochs and its end (child process, then its evaluation read back);
- tuning then a fair comparison from the Tuning dialog (RNN and HRNN Init, 2 trials of 2 epochs each);
- a dataset switch with Results shown, then with Inspection shown;
- inspection of a user with 1,000 events (timeline, runs' recommendations), with Inspection shown,
  and picked while Inspection is hidden.

Prints p50 / p99 / max lateness per flow; the target is a maximum under 100 ms.

    python bench/bench_gui_latency.py                          # every flow
    python bench/bench_gui_latency.py --flows import inspection --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app.appearance import apply_appearance
from app.latency_probe import PROBE_INTERVAL_MS, LatencyProbe
from app.main_window import MainWindow
from app.settings import AppSettings
from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING
from engine.runs.planning import plan_runs
from engine.storage.workspace import Workspace
from engine.workbench.compare import CompareRequest, compare_in_background
from engine.workbench.generating import write_log
from engine.workbench.importing import ImportRequest, import_log
from engine.workbench.tuning import TuningRequest, tune_in_background

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml100k_recbole" / "ml-100k.inter"
FLOWS = ("idle", "import", "training", "tuning", "switch", "inspection")
HEAVY_USER_EVENTS = 1_000


class StallWatch:
    """With ``--stacks``: a thread that, whenever the probe is more than ``threshold_ms`` late, records
    what every thread was doing (the GUI thread first): where a stall comes from."""

    def __init__(self, probe: LatencyProbe, threshold_ms: float = 80.0) -> None:
        import threading

        self.probe, self.threshold_s = probe, threshold_ms / 1000
        self.gui_thread = threading.get_ident()
        self.stacks: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import traceback

        while not self._stop.wait(0.02):
            late = time.monotonic() - self.probe.last_tick
            if self.probe.running and late > self.threshold_s:
                frames = sys._current_frames()
                parts = [f"--- {late * 1000:.0f} ms late; GUI thread:\n"
                         + "".join(traceback.format_stack(frames[self.gui_thread])[-12:])]
                for ident, frame in frames.items():
                    if ident not in (self.gui_thread, self._thread.ident):
                        parts.append(f"thread {ident}:\n" + "".join(traceback.format_stack(frame)[-6:]))
                self.stacks.append("\n".join(parts))
                self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()


def wait(until: Callable[[], object], timeout_s: float) -> None:
    """Run the event loop until ``until()`` is true (checked every 20 ms) or the timeout passes."""
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    check = QTimer()
    check.setInterval(20)
    check.timeout.connect(lambda: loop.quit() if until() or time.monotonic() > deadline else None)
    check.start()
    started = time.monotonic()
    while True:
        loop.exec()  # may also return early: QCoreApplication.exit() ends every nested loop, so look again
        if until() or time.monotonic() > deadline:
            break
    check.stop()
    if not until():
        import faulthandler

        faulthandler.dump_traceback(all_threads=True)
        raise TimeoutError(f"gave up after {time.monotonic() - started:.0f} s (jobs running: {RUNNING})")


def summary(name: str, lateness: list[float], seconds: float) -> dict[str, float | str | int]:
    values = np.asarray(lateness) if lateness else np.zeros(1)
    return {"flow": name, "seconds": round(seconds, 1), "ticks": len(lateness),
            "p50_ms": round(float(np.percentile(values, 50)), 1), "p99_ms": round(float(np.percentile(values, 99)), 1),
            "max_ms": round(float(values.max()), 1), "over_50_ms": int((values > 50).sum())}


def idle(window: MainWindow) -> bool:
    """Nothing runs in the background and no run is queued (the window has settled)."""
    global RUNNING
    RUNNING = [job.title for job in window.jobs.running_jobs()]
    return not RUNNING and not window.queue.busy()


RUNNING: list[str] = []  # the jobs running at the last look (what a timeout names)


def measure(name: str, probe: LatencyProbe, start: Callable[[], object], done: Callable[[], object],
            timeout_s: float, settle_s: float = 1.0) -> dict:
    """Probe from ``start()`` until ``done()`` holds, and then ``settle_s`` more (what the end sets off)."""
    probe.start()
    began = time.monotonic()
    start()
    wait(done, timeout_s)
    end = time.monotonic() + settle_s
    wait(lambda: time.monotonic() >= end, settle_s + 5)
    return summary(name, probe.stop(), time.monotonic() - began)


def heavy_user_log(path: Path, events: int = HEAVY_USER_EVENTS) -> Path:
    """The demo log plus one user with ``events`` events in sessions of 10 (popular items, so that
    the filters keep them): a user whose timeline holds 1,000 markers."""
    frame = synthetic.generate_log(synthetic.demo_config(seed=1))
    popular = frame["item_id"].value_counts().index.to_numpy()[:200]
    rng = np.random.default_rng(7)
    sessions = events // 10
    starts = int(frame["timestamp"].min()) + np.arange(sessions) * 3 * 3600
    times = (starts[:, None] + np.arange(10)[None, :] * 60).ravel()
    heavy = pd.DataFrame({"user_id": int(frame["user_id"].max()) + 1, "item_id": rng.choice(popular, len(times)),
                          "timestamp": times, "event_type": np.int8(1)})
    write_log(pd.concat([frame, heavy], ignore_index=True), path)
    return path


def import_flow(window: MainWindow, probe: LatencyProbe, ml100k: Path, folder: Path) -> dict:
    """An import of MovieLens 100K (a synthetic log of 100,000 events where it is absent)."""
    if ml100k.exists():
        request = ImportRequest(ml100k, preset="recbole", name="MovieLens 100K")
        name = "import of MovieLens 100K (100,000 events)"
    else:
        log_path = folder / "synthetic-100k.csv"
        write_log(synthetic.generate_log(synthetic.scaled_config(100_000, seed=0)), log_path)
        request = ImportRequest(log_path, mapping=SYNTHETIC_MAPPING, settings=PrepareSettings(min_item_support=5),
                                name="bench import")
        name = "import of a synthetic log of 100,000 events"
    count = len(window.browser.dataset_ids())
    return measure(name, probe, lambda: window.import_flow.start_import(request),
                           lambda: len(window.browser.dataset_ids()) > count and idle(window), 900, 3)


def training_flow(window: MainWindow, probe: LatencyProbe, demo_id: int) -> dict:
    """A run of RNN for 2 epochs, started from the Training panel."""
    window.tabs.setCurrentWidget(window.training_panel)
    window.browser.select("dataset", demo_id)
    wait(lambda: idle(window), 120)

    panel = window.training_panel
    panel.set_checked_models(["rnn"])
    panel.models.set_custom_values("rnn", {"epochs": 2})
    panel.seeds_edit.setText("0")
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))

    def start_training() -> None:
        panel.start_button.click()

    return measure("training RNN (2 epochs): start, epochs, end", probe, start_training,
                           lambda: idle(window), 900, 3)


def tuning_flows(window: MainWindow, probe: LatencyProbe, demo_id: int) -> list[dict]:
    """Tuning, then a fair comparison, started from the Tuning dialog."""
    results = []
    window.browser.select("dataset", demo_id)
    window.open_tuning()
    dialog = window.tuning_dialog
    assert dialog is not None
    url = str(window.url)
    tuning = (url, [TuningRequest(demo_id, "rnn", n_trials=2, fixed={"epochs": 2})], 1)
    results.append(measure("tuning RNN (2 trials of 2 epochs), the dialog open", probe,
                           lambda: dialog._start(window.jobs.submit_in_process(
                               "Tuning RNN", tune_in_background, tuning), dialog._on_tuned),
                           lambda: dialog.work is None and idle(window), 1800, 3))
    request = CompareRequest(demo_id, ("rnn", "hrnn-init"), n_trials=2, seeds=1, fixed={"epochs": 2},
                             device="cpu")
    results.append(measure("fair comparison of RNN and HRNN Init (2 trials each), the dialog open", probe,
                           lambda: dialog._start(window.jobs.submit_in_process(
                               "Comparing", compare_in_background, (url, request)), dialog._on_compared),
                           lambda: dialog.work is None and idle(window), 3600, 3))
    dialog.close()
    return results


def switch_flows(window: MainWindow, probe: LatencyProbe, demo_id: int, heavy_id: int) -> list[dict]:
    """A dataset switch with Results shown, then with Inspection shown."""
    results = []
    for panel, target in ((window.results_panel, heavy_id), (window.inspection_panel, demo_id)):
        window.tabs.setCurrentWidget(panel)
        wait(lambda: idle(window), 120)
        results.append(measure(f"dataset switch, {window.tabs.tabText(window.tabs.currentIndex())} shown", probe,
                               lambda t=target: window.browser.select("dataset", t), lambda: idle(window), 300, 2))
    return results


def inspection_flows(window: MainWindow, probe: LatencyProbe, heavy_id: int) -> list[dict]:
    """The user of 1,000 events picked with Inspection shown, then picked hidden and shown."""
    results = []
    panel = window.inspection_panel
    window.tabs.setCurrentWidget(panel)  # a panel behind another tab reads nothing until shown
    window.browser.select("dataset", heavy_id)
    wait(lambda: idle(window) and panel.snapshot is not None and panel.snapshot.dataset_id == heavy_id, 300)
    users = panel.snapshot.users
    heavy_user = int(users.loc[users["train_sessions"].idxmax(), "user"])
    other = int(users.loc[users["train_sessions"].idxmin(), "user"])
    panel.select_user(other)
    window.tabs.setCurrentWidget(panel)
    wait(lambda: idle(window), 120)
    results.append(measure(f"inspection of a user with {HEAVY_USER_EVENTS:,} events, Inspection shown", probe,
                           lambda: panel.select_user(heavy_user), lambda: idle(window), 300, 2))
    panel.select_user(other)
    window.tabs.setCurrentWidget(window.data_panel)
    wait(lambda: idle(window), 120)

    def pick_hidden_then_show() -> None:
        panel.select_user(heavy_user)
        QTimer.singleShot(500, lambda: window.tabs.setCurrentWidget(panel))

    results.append(measure(f"inspection of a user with {HEAVY_USER_EVENTS:,} events picked hidden, then shown",
                           probe, pick_hidden_then_show, lambda: idle(window) and panel.isVisible(), 300, 2))
    return results



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", nargs="+", choices=FLOWS, default=list(FLOWS))
    parser.add_argument("--ml100k", type=Path, default=ML100K, help="the MovieLens 100K ratings (RecBole .inter)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--stacks", type=Path, help="write what every thread did during each stall to this file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings"))
    app = QApplication(sys.argv)
    apply_appearance(app)
    workspace_path = folder / "workspace.sqlite"
    with Workspace(workspace_path) as workspace:  # the user of 1,000 events, imported before the window opens
        heavy = import_log(workspace, ImportRequest(heavy_user_log(folder / "heavy.csv"), mapping=SYNTHETIC_MAPPING,
                                                    settings=PrepareSettings(min_item_support=5), name="heavy user"))
        heavy_id = heavy.dataset_id
        run_ids = plan_runs(workspace, heavy_id, "pop", [0]) + plan_runs(workspace, heavy_id, "rnn", [0],
                                                                       overrides={"epochs": 1}, device="cpu")
    window = MainWindow(AppSettings(), workspace_path, create_demo=True)
    window.resize(1280, 720)
    window.show()
    wait(lambda: len(window.browser.dataset_ids()) == 2 and idle(window), 300)
    window.queue.enqueue(run_ids)  # the heavy user's runs, for Inspection (not measured)
    wait(lambda: idle(window), 900)
    demo_id = next(i for i in window.browser.dataset_ids() if i != heavy_id)
    probe = LatencyProbe()
    watch = StallWatch(probe) if args.stacks else None
    results = []
    if "idle" in args.flows:
        results.append(measure("idle", probe, lambda: None, lambda: len(probe.lateness_ms) >= 300, 30, 0))
    if "import" in args.flows:
        results.append(import_flow(window, probe, args.ml100k, folder))
    if "training" in args.flows:
        results.append(training_flow(window, probe, demo_id))
    if "tuning" in args.flows:
        results += tuning_flows(window, probe, demo_id)
    if "switch" in args.flows:
        results += switch_flows(window, probe, demo_id, heavy_id)
    if "inspection" in args.flows:
        results += inspection_flows(window, probe, heavy_id)
    window.close()
    machine = platform.processor() or platform.machine()
    print(f"GUI event-loop lateness (QTimer probe every {PROBE_INTERVAL_MS} ms), {machine}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, Qt platform {app.platformName()}")
    print(f"{'flow':78} {'seconds':>8} {'ticks':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'>50ms':>6}")
    for row in results:
        print(f"{row['flow']:78} {row['seconds']:>8} {row['ticks']:>6} {row['p50_ms']:>7} {row['p99_ms']:>7} "
              f"{row['max_ms']:>7} {row['over_50_ms']:>6}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if watch is not None and args.stacks:
        watch.stop()
        args.stacks.write_text("\n\n".join(watch.stacks))


if __name__ == "__main__":
    main()
