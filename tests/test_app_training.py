"""The Training panel: every registered model with its own generated form and preset (Custom
changes only the fields edited), validation in the form's words, runs queued and executed by a
child process (the protocol of ``main.py execute``), live curves, the runs table (sorted,
filtered, curves of several runs overlaid), cancel, failed, crashed and killed runs, and Retry."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from app.model_settings import NAME_ROLE
from app.run_process import unexpected_end
from app.training_panel import format_eta, parse_seeds
from engine.errors import InputError
from engine.runs.records import get_run, list_runs
from engine.runs.saved_presets import save_preset
from engine.workbench.training import MODELS, RunPlan
from tests.app_support import open_window, opened, save_screenshot, wait_for_overview, wait_idle
from tests.conftest import PROJECT_ROOT


def choose(panel, models: list[str], **custom) -> None:
    """Check ``models``; the neural ones get the ``custom`` changes from their small preset."""
    panel.set_checked_models(models)
    for model in models:
        if custom and MODELS[model].neural:
            panel.models.set_custom_values(model, custom)


def statuses(window, run_ids: list[int]) -> list[str]:
    with opened(window) as workspace:
        return [get_run(workspace, run_id).status for run_id in run_ids]


def wait_for_status(qtbot, window, run_ids: list[int], status: str, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: all(s == status for s in statuses(window, run_ids)), timeout=timeout)
    qtbot.waitUntil(lambda: not window.queue.busy(), timeout=timeout)


def start(qtbot, panel) -> list[int]:
    """Press Start and wait for the runs it plans (in the background) to be queued."""
    queued: list[list[int]] = []
    panel.queue.queue_changed.connect(lambda: queued.append(panel.queue.pending_runs))
    before = {run.id for run in panel.overview.runs} if panel.overview is not None else set()
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel._planning is None and bool(queued), timeout=30_000)
    with opened(panel.window()) as workspace:
        return [run.id for run in list_runs(workspace) if run.id not in before]


def test_every_registered_model_gets_its_generated_form(window) -> None:
    models = window.training_panel.models
    listed = [models.model_list.item(i).data(NAME_ROLE) for i in range(models.model_list.count())]
    assert listed == list(MODELS.names())
    models.show_model("hrnn-init")
    editors = models.form("hrnn-init").editors
    assert isinstance(editors["loss"], QComboBox) and editors["loss"].findText("bpr-max") >= 0
    assert isinstance(editors["epochs"], QSpinBox)
    assert isinstance(editors["learning_rate"], QDoubleSpinBox)
    assert isinstance(editors["compat_2017"], QCheckBox)
    assert not {"model", "seed", "device"} & set(editors)
    assert "HRNN only" in editors["user_units"].toolTip()
    assert models.settings_box.title() == "Settings of HRNN Init"
    assert [models.preset_combo.itemData(i) for i in range(models.preset_combo.count())] == \
        [*MODELS["hrnn-init"].presets, "custom"]


def test_every_field_and_choice_has_a_tooltip(window) -> None:
    panel = window.training_panel
    for model in MODELS.names():
        form = panel.models.form(model)
        for name, editor in form.editors.items():
            assert editor.toolTip().strip(), f"{model}.{name}"
            assert form.label_widgets[name].toolTip().strip(), f"{model}.{name}"
    for widget in (panel.dataset_combo, panel.seeds_edit, panel.device_combo, panel.start_button,
                   panel.models.preset_combo, panel.models.model_list, panel.cancel_button):
        assert widget.toolTip().strip()


def test_each_model_keeps_its_own_preset_and_custom_changes_only_the_edited_fields(window) -> None:
    models = window.training_panel.models
    models.set_checked_models(["hrnn-init", "rnn", "item-knn"])
    models.set_preset("hrnn-init", "large")
    assert models.form("hrnn-init").values()["session_units"] == 500
    assert not models.form("hrnn-init").editors["session_units"].isEnabled()
    models.set_preset("rnn", "custom")
    assert models.form("rnn").values()["session_units"] == 100  # its own small preset, not HRNN's large
    models.form("rnn").set_values({"epochs": 2})
    assert models.preset("hrnn-init") == "large"  # untouched by RNN's Custom
    assert models.plans() == [RunPlan("item-knn", "default", {}), RunPlan("rnn", "small", {"epochs": 2}),
                              RunPlan("hrnn-init", "large", {})]
    models.show_model("rnn")
    assert "Epochs 2" in models.caption.text()
    assert models.form("rnn").label_widgets["epochs"].font().bold()
    models.show_model("hrnn-init")
    assert "large preset" in models.caption.text()
    save_screenshot(window.training_panel, "training_custom")


def test_an_invalid_setting_shows_the_engine_message_and_disables_start(window) -> None:
    panel = window.training_panel
    choose(panel, ["rnn"], dropout_session=1.0)  # the spin box reaches 1; a probability of dropping stays below
    assert panel.validation_label.text() == "Session dropout must be in [0, 1) (got 1.0)"  # the form's label
    assert panel.models.form("rnn").editors["dropout_session"].property("invalid")
    assert not panel.start_button.isEnabled()
    choose(panel, ["rnn", "pop"], dropout_session=0.5, optimizer="adam", momentum=0.2)
    assert panel.validation_label.text().startswith("RNN: Momentum")
    assert not panel.start_button.isEnabled()
    panel.models.form("rnn").set_values({"momentum": 0.0})
    assert panel.start_button.isEnabled()
    assert not panel.models.form("rnn").editors["dropout_session"].property("invalid")
    panel.seeds_edit.setText("two")
    assert panel.validation_label.text().startswith("Seeds:") and not panel.start_button.isEnabled()


def test_seeds_eta_and_unexpected_ends() -> None:
    assert parse_seeds("0") == [0]
    assert parse_seeds("0, 2-4; 3") == [0, 2, 3, 4]
    with pytest.raises(InputError):
        parse_seeds("4-2")
    assert format_eta(75) == "1:15" and format_eta(3725) == "1:02:05" and format_eta(-1) == ""
    assert unexpected_end(9, True, ["BrokenPipeError: [Errno 32]"]) == \
        "the training process ended unexpectedly (signal 9)"
    assert unexpected_end(3, False, ["a", "Segmentation fault"]) == \
        "the training process exited with code 3: a / Segmentation fault"


def test_runs_train_in_a_child_process_and_the_table_compares_them(window, qtbot) -> None:
    panel = window.training_panel
    window.tabs.setCurrentWidget(panel)
    choose(panel, ["pop", "rnn", "hrnn-init"], epochs=1, session_units=20)
    panel.seeds_edit.setText("0")
    epochs: list[int] = []
    window.queue.run_epoch.connect(lambda run, epoch, loss, seconds: epochs.append(epoch))
    run_ids = start(qtbot, panel)
    assert len(run_ids) == 3
    with opened(window) as workspace:
        assert get_run(workspace, run_ids[1]).config["epochs"] == 1
    wait_for_status(qtbot, window, run_ids, "finished")
    assert epochs  # live epoch events arrived
    wait_for_overview(qtbot, window, lambda overview: all(overview.run(r).status == "finished" for r in run_ids))
    qtbot.waitUntil(lambda: window.browser.run_status(run_ids[1]) == "finished", timeout=10_000)
    view = panel.runs_view
    assert view.cell_text(run_ids[1], "Final loss") == "0.3333"  # the fake executor's 1/3 after 3 epochs
    assert view.cell_text(run_ids[1], "Epochs") == "3" and view.cell_text(run_ids[1], "Status") == "finished"
    assert view.cell_text(run_ids[1], "Parameters") == "small, epochs=1, session_units=20"
    view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert view.run_ids()[:3] == sorted(run_ids)
    view.filter_edit.setText("HRNN")
    assert view.run_ids() == [run_ids[2]]
    view.filter_edit.clear()
    window.browser.select("run", run_ids[1])
    x, y = panel.curve_points()
    assert len(x) == 3 and len(x) == len(y)
    view.select_runs(run_ids[1:])
    qtbot.waitUntil(lambda: len(panel.curves.items) == 2, timeout=10_000)
    assert panel.curves.legend.isVisible()
    assert not panel.curves.plot.getAxis("left").autoSIPrefix  # a loss of 0.81 reads 0.81, not x0.001
    assert panel.progress_bar.value() == 1000
    save_screenshot(window, "training_panel")


def test_cancel_stops_the_running_run(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "slow")
    panel = window.training_panel
    choose(panel, ["hrnn-init"], epochs=1)
    panel.seeds_edit.setText("0-1")
    run_ids = start(qtbot, panel)
    qtbot.waitUntil(lambda: statuses(window, run_ids[:1]) == ["running"], timeout=30_000)
    assert panel.cancel_button.isEnabled()
    window.queue.cancel_all()
    wait_for_status(qtbot, window, run_ids, "cancelled")
    assert "cancelled" in panel.progress_label.text()


def test_a_failed_run_shows_why_and_retry_queues_it_again(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "fail")
    panel = window.training_panel
    choose(panel, ["rnn"], epochs=1)
    run_id = start(qtbot, panel)[0]
    wait_for_status(qtbot, window, [run_id], "failed")
    qtbot.waitUntil(lambda: window.browser.run_status(run_id) == "failed", timeout=10_000)
    window.browser.select("run", run_id)
    assert "diverged" in panel.run_error.text()
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "ok")
    panel.runs_view.select_runs([run_id])
    panel.runs_view.retry_action.trigger()
    wait_for_status(qtbot, window, [run_id], "finished")
    with opened(window) as workspace:
        run = get_run(workspace, run_id)
    assert run.error is None and run.config["epochs"] == 1


def test_a_crashed_child_marks_its_run_failed(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "crash")
    choose(window.training_panel, ["rnn"], epochs=1)
    run_id = start(qtbot, window.training_panel)[0]
    wait_for_status(qtbot, window, [run_id], "failed")
    with opened(window) as workspace:
        assert "exited with code 3" in get_run(workspace, run_id).error


def test_a_run_killed_from_outside_says_so(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "slow")
    choose(window.training_panel, ["rnn"], epochs=1)
    run_id = start(qtbot, window.training_panel)[0]
    qtbot.waitUntil(lambda: statuses(window, [run_id]) == ["running"], timeout=30_000)
    os.kill(window.queue._process.processId(), signal.SIGKILL)
    wait_for_status(qtbot, window, [run_id], "failed")
    with opened(window) as workspace:
        assert get_run(workspace, run_id).error == "the training process ended unexpectedly (signal 9)"


@pytest.mark.slow
def test_a_real_short_training_run_finishes(qtbot, app_settings, workspace_path) -> None:
    help_text = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "execute", "--help"],
                               capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert help_text.returncode == 0, help_text.stderr
    from app.run_process import execute_command

    real = open_window(qtbot, app_settings, workspace_path, command=execute_command())
    qtbot.waitUntil(lambda: real.training_panel.dataset_id() is not None, timeout=60_000)
    choose(real.training_panel, ["pop", "rnn"], epochs=1, session_units=16, batch_size=32)
    run_ids = start(qtbot, real.training_panel)
    wait_for_status(qtbot, real, run_ids, "finished", timeout=180_000)
    wait_for_overview(qtbot, real, lambda overview: all(overview.run(r).status == "finished" for r in run_ids))
    real.training_panel.show_run(run_ids[1])
    qtbot.waitUntil(lambda: len(real.training_panel.curve_points()[0]) == 1, timeout=10_000)
    assert real.training_panel.runs_view.cell_text(run_ids[1], f"Recall@{10}")  # evaluated: test metrics shown
    wait_idle(qtbot, real)
    real.close()


def test_form_shows_the_declared_labels_ranges_and_help(qtbot) -> None:
    """The generated form reads the engine's declarations: labels, tooltips with the valid range,
    spin box ranges; hidden settings (model, seed, device) are not shown."""
    from app.config_form import ConfigForm
    from engine.training.config import TrainConfig

    form = ConfigForm(TrainConfig)
    qtbot.addWidget(form)
    assert form.labels["cuda_graph_steps"] == "CUDA graph steps"
    assert form.labels["bpr_max_reg"] == "BPR-max regularization"
    assert form.labels["dropout_session"] == "Session dropout"
    assert {"model", "seed", "device"}.isdisjoint(form.editors)
    assert "in [0, 1)" in form.editors["dropout_session"].toolTip()
    assert form.editors["cuda_graph_steps"].maximum() == 256
    assert form.editors["loss"].count() >= 6


def test_closing_with_runs_in_progress_asks_and_can_leave_them_to_finish(window, qtbot, monkeypatch) -> None:
    import time

    from app.main_window import RunsOnClosing

    monkeypatch.setenv("FAKE_EXECUTE_MODE", "slow")
    panel = window.training_panel
    choose(panel, ["rnn"], epochs=1)
    panel.seeds_edit.setText("0-1")
    run_ids = start(qtbot, panel)
    qtbot.waitUntil(lambda: statuses(window, run_ids[:1]) == ["running"], timeout=30_000)
    asked: list[tuple] = []

    def answer(choice: RunsOnClosing):
        def ask(_parent, running, queued, doing):
            asked.append((running, queued, doing))
            return choice
        return ask

    monkeypatch.setattr("app.main_window.ask_about_runs", answer(RunsOnClosing.STAY))
    window.close()
    assert window.isVisible() and asked == [(run_ids[0], 1, "quitting")]  # "Go back": nothing changes
    monkeypatch.setattr("app.main_window.ask_about_runs", answer(RunsOnClosing.LEAVE))
    window.close()
    assert not window.isVisible() and len(asked) == 2
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and statuses(window, run_ids) != ["finished", "finished"]:
        time.sleep(0.5)  # the window is gone: the running child and a headless executor finish the runs
    assert statuses(window, run_ids) == ["finished", "finished"]


def test_a_saved_preset_reaches_the_training_panel_and_stays_chosen(window, qtbot, app_settings,
                                                                     workspace_path) -> None:
    """A preset saved in the workspace (Use as preset in the Tuning dialog, or tune --save-preset)
    is in its model's preset list at once, gives its values, plans runs with it, and is still the
    model's preset after a restart."""
    with opened(window) as workspace:
        save_preset(workspace, "tuned-rnn", "rnn", {**dataclasses.asdict(MODELS["rnn"].presets["small"]),
                                                    "session_units": 37, "epochs": 2})
    window.refresh()
    models = window.training_panel.models
    qtbot.waitUntil(lambda: "tuned-rnn" in models.presets_of("rnn"), timeout=30_000)
    models.show_model("rnn")
    assert "tuned-rnn (saved)" in [models.preset_combo.itemText(i) for i in range(models.preset_combo.count())]
    models.set_preset("rnn", "tuned-rnn")
    assert models.form("rnn").values()["session_units"] == 37 and models.preset("rnn") == "tuned-rnn"
    models.set_checked_models(["rnn"])
    assert models.plans() == [RunPlan("rnn", "tuned-rnn", {})]
    window.close()
    again = open_window(qtbot, app_settings, workspace_path, create_demo=False)
    qtbot.waitUntil(lambda: again.training_panel.models.preset("rnn") == "tuned-rnn", timeout=30_000)
    wait_idle(qtbot, again)
    again.close()


def test_the_settings_column_never_clips_after_a_wide_form(window, qtbot) -> None:
    """Showing the session-aware kNN models' wider forms leaves every model's settings within the
    column, Reset whole, at 1280 x 720."""
    panel = window.training_panel
    window.tabs.setCurrentWidget(panel)
    models = panel.models
    for name in MODELS.names():
        models.show_model(name)
        qtbot.wait(10)
    for name in ("v-sknn-ebr", "stan-ebr", "rnn"):
        models.show_model(name)
        models.set_preset(name, "custom")
        qtbot.wait(50)
        viewport = panel.settings_scroll.viewport().width()
        assert models.minimumSizeHint().width() <= viewport, name
        assert models.width() <= viewport + 1, name
        assert models.reset_button.width() >= models.reset_button.sizeHint().width(), name
    save_screenshot(window, "training_settings_after_ebr")
