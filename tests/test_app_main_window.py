"""The main window: opens on a fresh workspace with the demo dataset, panels, remembered settings,
a laptop screen (1280×720: the window shrinks and stays, Start is in view, the Results table shows
eight rows with its side pane collapsed), help, and the headless fallback of launch()."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QSettings, QSize, Qt
from PySide6.QtWidgets import QScrollArea

from app import launch as launch_module
from app.help_dialogs import AboutDialog, UserGuideDialog
from app.settings import AppSettings
from engine.runs import records
from tests.app_results_support import fake_evaluated_run
from tests.app_support import open_window, save_screenshot, wait_for_overview, wait_idle

PANELS = ["Data", "Training", "Results", "Inspection"]
LAPTOP = QSize(1280, 720)


def test_window_opens_on_a_fresh_workspace_with_the_demo_dataset(qtbot, app_settings, workspace_path) -> None:
    window = open_window(qtbot, app_settings, workspace_path, create_demo=True)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == PANELS
    qtbot.waitUntil(lambda: window.data_panel.explorer.last_figures is not None, timeout=60_000)
    assert len(window.browser.dataset_ids()) == 1
    assert window.browser.topLevelItem(0).text(0) == "demo (synthetic)"
    assert not window.browser.invitation.isVisible()
    assert window.data_panel.statistics.value_text("Users") is not None
    assert window.training_panel.dataset_id() == window.browser.dataset_ids()[0]
    assert window.windowTitle().endswith("workspace.sqlite")
    wait_idle(qtbot, window)
    save_screenshot(window, "main_window_data_panel")
    window.close()


def test_an_empty_workspace_invites_a_drop_or_the_demo(qtbot, app_settings, workspace_path) -> None:
    window = open_window(qtbot, app_settings, workspace_path, create_demo=False)
    wait_for_overview(qtbot, window, lambda overview: True)
    assert window.browser.invitation.isVisible()
    assert "Drop an interaction log here" in window.browser.invitation.text_label.text()
    save_screenshot(window, "empty_workspace")
    window.browser.invitation.demo_button.click()
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 1, timeout=60_000)
    assert not window.browser.invitation.isVisible()
    wait_idle(qtbot, window)
    window.close()


def test_results_and_inspection_panels_follow_the_selected_dataset(window, qtbot) -> None:
    from app.inspection.inspection_panel import InspectionPanel
    from app.results.results_panel import ResultsPanel

    assert isinstance(window.tabs.widget(2), ResultsPanel) and isinstance(window.tabs.widget(3), InspectionPanel)
    dataset_id = window.browser.dataset_ids()[0]
    window.browser.select("dataset", dataset_id)
    assert window.results_panel.dataset_id == dataset_id
    assert window.inspection_panel._dataset_id == dataset_id
    wait_idle(qtbot, window)


def test_layout_and_choices_survive_a_restart(window, qtbot, app_settings: AppSettings, workspace_path) -> None:
    window.tabs.setCurrentIndex(1)
    window.log_panel.set_minimum_level("Warning")
    models = window.training_panel.models
    models.set_checked_models(["pop", "hrnn-init"])
    models.set_preset("hrnn-init", "large")
    models.set_preset("rnn", "custom")
    models.form("rnn").set_values({"epochs": 3})
    window.training_panel.seeds_edit.setText("1-3")
    window.results_panel.k_combo.setCurrentIndex(2)
    window.inspection_panel.k_combo.setCurrentIndex(0)
    window.close()
    again = open_window(qtbot, AppSettings(), workspace_path, create_demo=False)
    assert again.tabs.currentIndex() == 1
    assert again.log_panel.level_name() == "Warning"
    assert again.training_panel.checked_models() == ["pop", "hrnn-init"]
    assert again.training_panel.models.preset("hrnn-init") == "large"
    assert again.training_panel.models.preset("rnn") == "custom"
    assert again.training_panel.models.overrides("rnn") == {"epochs": 3}
    assert again.training_panel.seeds_edit.text() == "1-3"
    assert again.results_panel.k_combo.currentIndex() == 2 and again.inspection_panel.k_combo.currentIndex() == 0
    assert str(workspace_path.resolve()) in AppSettings().recent_workspaces()
    wait_for_overview(qtbot, again, lambda overview: len(overview.datasets) == 1)
    wait_idle(qtbot, again)
    again.close()


def _nine_evaluated_runs(workspace_path: Path, template: Path) -> None:
    """The demo dataset with nine differently named Pop runs of hand-made ranks (nine table rows)."""
    shutil.copyfile(template, workspace_path)
    with opened_at(workspace_path) as workspace:
        from engine.storage.catalog import list_datasets

        dataset_id = list_datasets(workspace)[0].id
        n = 40
        for index in range(9):
            ranks = np.where(np.arange(n) < 10 - index, 1.0, 100.0)  # variant i: 11 - i hits
            run_id = fake_evaluated_run(workspace, dataset_id, "pop", index, ranks, user=np.arange(n) % 8,
                                        session=np.arange(n) % 8, position=np.arange(n) % 4 + 1,
                                        history=np.arange(n) % 3 + 1, session_length=5)
            records.rename_run(workspace, run_id, f"Pop variant {index + 1}")


def opened_at(path: Path):
    from engine.storage.workspace import Workspace

    return Workspace(path)


def run_ids_of(path: Path) -> list[int]:
    with opened_at(path) as workspace:
        return [run.id for run in records.list_runs(workspace)]


def _visible_in_window(widget, window) -> bool:
    """Whether the whole of ``widget`` lies inside the window and is not scrolled away."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    inside = window.rect().contains(top_left) and window.rect().contains(
        top_left + QPoint(widget.width() - 1, widget.height() - 1))
    scroll = widget.parentWidget()
    while scroll is not None and not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    return inside and widget.isVisible() and scroll is None


def test_the_window_fits_a_laptop_screen(qtbot, app_settings, workspace_path, demo_workspace_template) -> None:
    """1280×720: the window shrinks to it and stays there on every panel; Start is in view without
    scrolling; the statistics table fills its box; the Results table shows eight rows and keeps
    "Behind the selection" collapsed until a cell is selected; each panel's least size fits."""
    _nine_evaluated_runs(workspace_path, demo_workspace_template)
    window = open_window(qtbot, app_settings, workspace_path, create_demo=False)
    qtbot.waitUntil(lambda: window.data_panel.explorer.last_figures is not None, timeout=60_000)
    assert window.minimumSize().width() <= LAPTOP.width() and window.minimumSize().height() <= LAPTOP.height()
    for index, name in enumerate(PANELS):
        window.tabs.setCurrentIndex(index)
        window.resize(LAPTOP)
        wait_idle(qtbot, window)
        qtbot.wait(50)
        assert window.size() == LAPTOP, name
        page = window.tabs.widget(index)
        assert page.minimumSizeHint().width() <= page.width() + 2, name
        assert page.minimumSizeHint().height() <= page.height() + 2, name
        save_screenshot(window, f"laptop_{name.lower()}")
    window.tabs.setCurrentWidget(window.training_panel)
    qtbot.wait(50)
    assert _visible_in_window(window.training_panel.start_button, window)
    statistics = window.data_panel.statistics
    assert not statistics.horizontalScrollBar().isVisible()
    results = window.results_panel
    window.tabs.setCurrentWidget(results)
    qtbot.waitUntil(lambda: results.view is not None, timeout=60_000)
    qtbot.wait(50)
    assert results.table_model.rowCount() == 9
    row_height = results.table.rowHeight(0)
    assert results.table.viewport().height() >= 8 * row_height
    assert not results.details_open()
    results.table.setCurrentIndex(results.table_model.index(0, 2))
    assert results.details_open() and results.details.run_ids()
    save_screenshot(window, "laptop_results_selected")
    results.details.close_button.click()
    assert not results.details_open()
    window.close()


def test_the_results_table_sorts_by_a_metric(qtbot, app_settings, workspace_path, demo_workspace_template) -> None:
    _nine_evaluated_runs(workspace_path, demo_workspace_template)
    window = open_window(qtbot, app_settings, workspace_path, create_demo=False)
    results = window.results_panel
    window.tabs.setCurrentWidget(results)
    qtbot.waitUntil(lambda: results.view is not None, timeout=60_000)
    model = results.table_model
    results.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    assert model.models[0] == "Pop variant 9"  # the lowest Recall@K: the highest ranks
    results.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert model.models[0] == "Pop variant 1"
    results.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert model.models[0] == "Pop variant 9"
    results.table.setCurrentIndex(model.index(0, 2))
    assert results.details.run_ids() == [max(run_ids_of(workspace_path))]
    wait_idle(qtbot, window)
    window.close()


def test_help_shows_the_user_guide_and_the_licences(window, qtbot) -> None:
    about = AboutDialog(window)
    qtbot.addWidget(about)
    licences = about.licences()
    assert licences["pyqtgraph"] == "MIT" and "LGPL" in licences["PySide6-Essentials"]
    assert "SQLAlchemy" in licences and "torch" in licences
    save_screenshot(about, "about_dialog")
    guide = UserGuideDialog(window)
    qtbot.addWidget(guide)
    text = guide.browser.toPlainText()
    assert "Import" in text and "Training" in text and "Delete" in text
    save_screenshot(guide, "user_guide")


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

