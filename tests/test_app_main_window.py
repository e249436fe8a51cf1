"""The main window: opens on a fresh workspace with the demo dataset, panels, remembered
settings, and the headless fallback of launch()."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app import launch as launch_module
from app.settings import AppSettings
from tests.app_support import open_window, save_screenshot, wait_idle

PANELS = ["Data", "Training", "Results", "Inspection"]


def test_window_opens_on_a_fresh_workspace_with_the_demo_dataset(window, qtbot) -> None:
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == PANELS
    assert len(window.browser.dataset_ids()) == 1
    assert window.browser.topLevelItem(0).text(0) == "demo (synthetic)"
    assert window.data_panel.statistics.value_text("Users") is not None
    assert window.training_panel.dataset_id() == window.browser.dataset_ids()[0]
    assert window.windowTitle().endswith("workspace.sqlite")
    wait_idle(qtbot, window)
    save_screenshot(window, "main_window_data_panel")


def test_results_and_inspection_panels_follow_the_selected_dataset(window, qtbot) -> None:
    from app.inspection.inspection_panel import InspectionPanel
    from app.results.results_panel import ResultsPanel

    assert isinstance(window.tabs.widget(2), ResultsPanel) and isinstance(window.tabs.widget(3), InspectionPanel)
    dataset_id = window.browser.dataset_ids()[0]
    window.browser.select("dataset", dataset_id)
    assert window.results_panel._dataset_id == dataset_id
    assert window.inspection_panel._dataset_id == dataset_id
    wait_idle(qtbot, window)


def test_layout_and_choices_survive_a_restart(window, qtbot, app_settings: AppSettings, workspace_path) -> None:
    window.tabs.setCurrentIndex(1)
    window.log_panel.set_minimum_level("Warning")
    window.training_panel.set_checked_models(["pop", "hrnn-init"])
    window.training_panel.set_preset("large")
    window.training_panel.seeds_edit.setText("1-3")
    window.results_panel.k_combo.setCurrentIndex(2)
    window.inspection_panel.k_combo.setCurrentIndex(0)
    window.close()
    again = open_window(qtbot, AppSettings(), workspace_path, create_demo=False)
    assert again.tabs.currentIndex() == 1
    assert again.log_panel.level_name() == "Warning"
    assert again.training_panel.checked_models() == ["pop", "hrnn-init"]
    assert again.training_panel.preset() == "large"
    assert again.training_panel.seeds_edit.text() == "1-3"
    assert again.results_panel.k_combo.currentIndex() == 2 and again.inspection_panel.k_combo.currentIndex() == 0
    assert str(workspace_path.resolve()) in AppSettings().recent_workspaces()
    again.close()


def test_settings_live_in_the_temporary_folder(app_settings: AppSettings, tmp_path: Path) -> None:
    app_settings.set_value("probe", 1)
    app_settings.sync()
    store = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "HRNN Workbench", "HRNN Workbench")
    assert Path(store.fileName()).is_relative_to(tmp_path)


def test_main_without_a_display_runs_the_headless_demo(monkeypatch, capsys) -> None:
    import main as main_script

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(launch_module.sys, "platform", "linux")
    monkeypatch.setattr(main_script.sys, "argv", ["main.py"])
    calls: list[list[str]] = []
    monkeypatch.setattr("engine.cli.main.main", lambda argv: calls.append(argv) or 0)
    assert main_script.run() == 0
    assert "No display" in capsys.readouterr().out
    assert calls == [["demo"]]
