"""The window keeps answering through every flow a user goes through: an import, a training run's
start, epochs and end, tuning then a fair comparison from the Tuning dialog, a dataset switch with
Results or Inspection shown, and the inspection of a user with 1,000 events. A probe on the GUI
thread measures how late the event loop answers; each flow has a generous bound (STALL_BOUND_MS:
a loaded test machine adds pauses of its own). The figures against the 100 ms target come from
bench/bench_gui_latency.py (BENCHMARKS.md)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.tuning.tuning_dialog import TuningDialog
from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING
from engine.runs.evaluate_run import evaluate_run
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.storage.workspace import Workspace
from engine.workbench.generating import write_log
from engine.workbench.importing import ImportRequest, import_log
from tests.app_support import no_stall, open_window, wait_idle
from tests.test_app_training import choose, start, wait_for_status

HEAVY_EVENTS = 1_000


def heavy_user_log(path: Path) -> Path:
    """The demo log plus one user with 1,000 events of popular items in sessions of 10."""
    frame = synthetic.generate_log(synthetic.demo_config(seed=1))
    popular = frame["item_id"].value_counts().index.to_numpy()[:200]
    sessions = HEAVY_EVENTS // 10
    starts = int(frame["timestamp"].min()) + np.arange(sessions) * 3 * 3600
    times = (starts[:, None] + np.arange(10)[None, :] * 60).ravel()
    heavy = pd.DataFrame({"user_id": int(frame["user_id"].max()) + 1,
                          "item_id": np.random.default_rng(7).choice(popular, len(times)),
                          "timestamp": times, "event_type": np.int8(1)})
    write_log(pd.concat([frame, heavy], ignore_index=True), path)
    return path


def test_import_and_a_training_run_never_freeze_the_window(window, qtbot, tmp_path: Path) -> None:
    log_path = tmp_path / "small.csv"
    write_log(synthetic.generate_log(synthetic.demo_config(seed=3)), log_path)
    count = len(window.browser.dataset_ids())
    with no_stall("import"):
        window.import_flow.start_import(ImportRequest(log_path, mapping=SYNTHETIC_MAPPING, name="second"))
        qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) > count, timeout=120_000)
        wait_idle(qtbot, window, 120_000)
        qtbot.wait(500)  # what the new dataset sets off: its log explored, Results and Inspection read
        wait_idle(qtbot, window, 120_000)
    panel = window.training_panel
    window.tabs.setCurrentWidget(panel)
    choose(panel, ["pop", "rnn"], epochs=1, session_units=20)
    panel.seeds_edit.setText("0")
    with no_stall("training start, epochs and end"):
        run_ids = start(qtbot, panel)
        wait_for_status(qtbot, window, run_ids, "finished")
        wait_idle(qtbot, window, 120_000)
        qtbot.wait(500)
    window.close()


@pytest.mark.slow
def test_tuning_and_a_fair_comparison_never_freeze_the_dialog(qtbot, app_settings, small_dataset) -> None:
    from app.jobs import JobManager

    workspace, dataset_id = small_dataset
    jobs = JobManager()
    dialog = TuningDialog(workspace.url, dataset_id, jobs, "small")
    qtbot.addWidget(dialog)
    dialog.resize(1280, 720)
    dialog.show()
    with no_stall("tuning then a fair comparison"):
        dialog.set_checked_models(["item-knn"])
        dialog.budget_value.setValue(2)
        dialog.tune_button.click()
        qtbot.waitUntil(lambda: dialog.work is None, timeout=120_000)
        dialog.set_checked_models(["pop", "item-knn"])
        dialog.budget_value.setValue(1)
        dialog.seeds.setValue(1)
        dialog.compare_button.click()
        qtbot.waitUntil(lambda: dialog.work is None, timeout=180_000)
        qtbot.wait(300)
    assert "Best: " in dialog.verdict.toPlainText()
    dialog.close()
    assert jobs.shutdown()


def test_a_dataset_switch_and_a_user_of_1000_events_never_freeze_the_window(
        qtbot, app_settings, workspace_path: Path, demo_workspace_template: Path, tmp_path: Path) -> None:
    shutil.copyfile(demo_workspace_template, workspace_path)
    with Workspace(workspace_path) as workspace:
        heavy_id = import_log(workspace, ImportRequest(heavy_user_log(tmp_path / "heavy.csv"),
                                                       mapping=SYNTHETIC_MAPPING,
                                                       settings=PrepareSettings(min_item_support=5),
                                                       name="heavy user")).dataset_id
        for run_id in plan_runs(workspace, heavy_id, "pop", [0]):
            assert execute_run(workspace, run_id).status == "finished"
            evaluate_run(workspace, run_id, device="cpu")
    window = open_window(qtbot, app_settings, workspace_path, create_demo=False)
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 2, timeout=60_000)
    wait_idle(qtbot, window)
    demo_id = next(i for i in window.browser.dataset_ids() if i != heavy_id)
    for panel, target in ((window.results_panel, heavy_id), (window.inspection_panel, demo_id),
                          (window.inspection_panel, heavy_id)):
        window.tabs.setCurrentWidget(panel)
        wait_idle(qtbot, window)
        with no_stall(f"dataset switch with {type(panel).__name__} shown"):
            window.browser.select("dataset", target)
            qtbot.wait(100)
            wait_idle(qtbot, window)
            qtbot.wait(300)
    inspection = window.inspection_panel
    qtbot.waitUntil(lambda: inspection.snapshot is not None and inspection.snapshot.dataset_id == heavy_id,
                    timeout=60_000)
    users = inspection.snapshot.users
    heavy_user = int(users.loc[users["train_sessions"].idxmax(), "user"])
    assert int(users["train_sessions"].max()) >= 90  # the user of 1,000 events, in sessions of 10
    with no_stall("inspection of a user with 1,000 events"):
        inspection.select_user(heavy_user)
        qtbot.wait(100)
        wait_idle(qtbot, window)
        qtbot.waitUntil(lambda: not inspection.busy(), timeout=60_000)
        qtbot.wait(300)
    assert inspection.user == heavy_user
    window.close()
