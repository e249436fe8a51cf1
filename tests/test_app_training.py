"""The Training panel: the generated hyper-parameter form and its validation, runs queued and
executed by a child process (the protocol of ``main.py execute``), live loss curve, cancel, and
failed runs with their error."""
from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSpinBox

from app.training_panel import format_eta, parse_seeds
from engine.errors import InputError
from engine.runs.records import get_run, list_runs
from tests.app_support import open_window, save_screenshot, wait_idle
from tests.conftest import PROJECT_ROOT


def choose(panel, models: list[str], **custom) -> None:
    panel.set_checked_models(models)
    panel.set_preset("custom")
    panel.neural_form.set_values(custom)


def wait_for_status(qtbot, window, run_ids: list[int], status: str, timeout: int = 30_000) -> None:
    qtbot.waitUntil(lambda: all(get_run(window.workspace, r).status == status for r in run_ids), timeout=timeout)
    qtbot.waitUntil(lambda: not window.queue.busy(), timeout=timeout)


def test_the_form_is_generated_from_the_training_configuration(window) -> None:
    editors = window.training_panel.neural_form.editors
    assert isinstance(editors["loss"], QComboBox) and editors["loss"].findText("bpr-max") >= 0
    assert isinstance(editors["epochs"], QSpinBox)
    assert isinstance(editors["learning_rate"], QDoubleSpinBox)
    assert isinstance(editors["compat_2017"], QCheckBox)
    assert not {"model", "seed", "device"} & set(editors)
    assert "HRNN only" in editors["user_units"].toolTip()


def test_presets_show_their_values_read_only(window) -> None:
    panel = window.training_panel
    panel.set_checked_models(["hrnn-all"])
    panel.set_preset("large")
    assert panel.neural_form.values()["session_units"] == 500
    assert not panel.neural_form.editors["session_units"].isEnabled()
    panel.set_preset("custom")
    assert panel.neural_form.editors["session_units"].isEnabled()


def test_an_invalid_setting_shows_the_engine_message_and_disables_start(window) -> None:
    panel = window.training_panel
    choose(panel, ["rnn"], dropout_session=1.0)  # the spin box reaches 1; a probability of dropping stays below
    assert panel.validation_label.text() == "Session dropout must be in [0, 1) (got 1.0)"  # the form's label
    assert not panel.start_button.isEnabled()
    panel.neural_form.set_values({"dropout_session": 0.5, "optimizer": "adam", "momentum": 0.2})
    assert "Momentum applies to the Adagrad optimizer" in panel.validation_label.text()
    assert not panel.start_button.isEnabled()
    panel.neural_form.set_values({"momentum": 0.0})
    assert panel.start_button.isEnabled()
    panel.seeds_edit.setText("two")
    assert "seeds" in panel.validation_label.text() and not panel.start_button.isEnabled()


def test_seeds_and_eta_formats() -> None:
    assert parse_seeds("0") == [0]
    assert parse_seeds("0, 2-4; 3") == [0, 2, 3, 4]
    with pytest.raises(InputError):
        parse_seeds("4-2")
    assert format_eta(75) == "1:15" and format_eta(3725) == "1:02:05" and format_eta(-1) == ""


def test_runs_train_in_a_child_process_with_a_live_loss_curve(window, qtbot) -> None:
    panel = window.training_panel
    window.tabs.setCurrentWidget(panel)
    choose(panel, ["pop", "rnn"], epochs=1, session_units=20)
    panel.seeds_edit.setText("0")
    epochs: list[int] = []
    window.queue.run_epoch.connect(lambda run, epoch, loss, seconds: epochs.append(epoch))
    run_ids = panel.start()
    assert len(run_ids) == 2
    assert get_run(window.workspace, run_ids[1]).config["epochs"] == 1
    wait_for_status(qtbot, window, run_ids, "finished")
    assert epochs  # live epoch events arrived
    qtbot.waitUntil(lambda: window.browser.run_status(run_ids[1]) == "finished", timeout=5_000)
    window.browser.select("run", run_ids[1])
    x, y = panel.curve_points()
    assert len(x) >= 1 and len(x) == len(y)
    assert panel.progress_bar.value() == 1000
    save_screenshot(window.training_panel, "training_panel")


def test_cancel_stops_the_running_run(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "slow")
    panel = window.training_panel
    choose(panel, ["hrnn-init"], epochs=1)
    panel.seeds_edit.setText("0-1")
    run_ids = panel.start()
    qtbot.waitUntil(lambda: get_run(window.workspace, run_ids[0]).status == "running", timeout=20_000)
    assert panel.cancel_button.isEnabled()
    window.queue.cancel_all()
    wait_for_status(qtbot, window, run_ids, "cancelled")
    assert "cancelled" in panel.progress_label.text()


def test_a_failed_run_shows_why(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "fail")
    panel = window.training_panel
    choose(panel, ["rnn"], epochs=1)
    run_id = panel.start()[0]
    wait_for_status(qtbot, window, [run_id], "failed")
    window.browser.refresh(window.workspace)
    window.browser.select("run", run_id)
    assert "diverged" in panel.run_error.text()
    assert window.browser.run_status(run_id) == "failed"


def test_a_crashed_child_marks_its_run_failed(window, qtbot, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_EXECUTE_MODE", "crash")
    choose(window.training_panel, ["rnn"], epochs=1)
    run_id = window.training_panel.start()[0]
    wait_for_status(qtbot, window, [run_id], "failed")
    assert "exited with code 3" in get_run(window.workspace, run_id).error


@pytest.mark.slow
def test_a_real_short_training_run_finishes(qtbot, app_settings, workspace_path) -> None:
    help_text = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "execute", "--help"],
                               capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert help_text.returncode == 0, help_text.stderr
    from app.run_process import execute_command

    real = open_window(qtbot, app_settings, workspace_path, command=execute_command())
    qtbot.waitUntil(lambda: real.training_panel.dataset_id() is not None, timeout=20_000)
    choose(real.training_panel, ["pop", "rnn"], epochs=1, session_units=16, batch_size=32)
    run_ids = real.training_panel.start()
    wait_for_status(qtbot, real, run_ids, "finished", timeout=120_000)
    real.training_panel.show_run(run_ids[1])
    assert len(real.training_panel.curve_points()[0]) == 1
    assert [r.status for r in list_runs(real.workspace)] == ["finished", "finished"]
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
