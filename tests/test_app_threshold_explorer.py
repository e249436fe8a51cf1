"""The session threshold explorer: histogram (with a log count axis), draggable threshold, live
figures (latest request only), filter messages naming the field, Prepare, and an exploration that
refreshes of the workspace leave alone while switching workspace clears it."""
from __future__ import annotations

import math

import numpy as np

from engine.data.preparation import PrepareSettings, prepare_events
from engine.data.raw_log import RawLog
from engine.data.session_figures import gap_histogram, session_figures
from tests.app_support import save_screenshot, wait_for_overview, wait_idle


def tiny_log() -> RawLog:
    # user 0: gaps 10 s, 100 s, 4000 s, 10 s; user 1: gaps 0.5 s, 2000 s, 10 s
    return RawLog(user=np.array([0, 0, 0, 0, 0, 1, 1, 1, 1]), item=np.array([0, 1, 2, 0, 1, 1, 2, 0, 1]),
                  time=np.array([0.0, 10.0, 110.0, 4110.0, 4120.0, 0.0, 0.5, 2000.5, 2010.5]),
                  event_type=np.zeros(9, np.int16), session_key=None, user_ids=np.array(["a", "b"], dtype=object),
                  item_ids=np.array(["x", "y", "z"], dtype=object), event_types=["event"])


def test_gap_histogram_counts_each_gap_of_a_user_once() -> None:
    histogram = gap_histogram(tiny_log())
    assert histogram.n_gaps == 7 and histogram.n_short == 1
    assert histogram.counts.sum() == 7
    assert histogram.counts[0] == 1  # the 0.5 s gap lands in the first bar (1 s)
    centre = np.searchsorted(histogram.edges_log10, math.log10(4000.0)) - 1
    assert histogram.counts[centre] == 1


def test_session_figures_agree_with_the_engine() -> None:
    raw = tiny_log()
    settings = PrepareSettings(session_threshold_s=1000, min_item_support=1, min_session_length=2,
                               min_user_sessions=2, drop_repeats=False)
    figures = session_figures(raw, settings)
    events = prepare_events(raw, settings)
    assert figures.sessions_cut == 4
    assert figures.events == events.n_events == 9
    assert figures.total_users == 2 and figures.users == 2


def test_moving_the_threshold_line_updates_the_spin_box_and_the_figures(window, qtbot) -> None:
    explorer = window.data_panel.explorer
    form = explorer.form
    at_30_min = explorer.last_figures
    explorer.threshold_line.setValue(math.log10(60.0))  # drag to 1 minute
    assert form.unit_combo.currentText() == "min" and abs(form.threshold_spin.value() - 1.0) < 1e-6
    qtbot.waitUntil(lambda: explorer.last_figures is not None and explorer.last_figures != at_30_min
                    and not explorer.figures_pending(), timeout=10_000)
    assert explorer.last_figures.sessions_cut > at_30_min.sessions_cut
    assert explorer.figure_values["sessions_cut"].text() == f"{explorer.last_figures.sessions_cut:,}"
    form.unit_combo.setCurrentText("s")
    assert abs(form.threshold_spin.value() - 60.0) < 1e-6
    form.threshold_spin.setValue(7200.0)
    assert abs(explorer.threshold_line.value() - math.log10(7200.0)) < 1e-6


def test_only_the_latest_request_is_shown(window, qtbot) -> None:
    explorer = window.data_panel.explorer
    for minutes in (1.0, 2.0, 5.0, 10.0, 20.0, 45.0):
        explorer.form.threshold_spin.setValue(minutes)
        qtbot.wait(40)
    qtbot.waitUntil(lambda: not explorer.figures_pending(), timeout=10_000)
    expected = session_figures(explorer._loaded.raw, explorer.current_settings())
    assert explorer.last_figures == expected


def test_a_filter_that_removes_everything_shows_its_message(window, qtbot) -> None:
    explorer = window.data_panel.explorer
    explorer.form.min_user_sessions.setValue(5000)
    qtbot.waitUntil(lambda: explorer.message.isVisible(), timeout=10_000)
    assert "user filter" in explorer.message.text() and "lower the min sessions per user" in explorer.message.text()
    assert explorer.form.min_user_sessions.property("invalid")
    assert explorer.figure_values["users"].text() == "–"
    explorer.form.max_user_sessions.setValue(3)
    qtbot.waitUntil(lambda: "Max sessions per user (3) is below" in explorer.message.text(), timeout=10_000)
    assert explorer.form.max_user_sessions.property("invalid")


def test_prepare_stores_the_dataset_and_shows_its_statistics(window, qtbot) -> None:
    explorer = window.data_panel.explorer
    explorer.form.threshold_spin.setValue(10.0)  # minutes
    explorer.dataset_name.setText("demo, 10 min")
    qtbot.waitUntil(lambda: not explorer.figures_pending(), timeout=10_000)
    expected = explorer.last_figures
    save_screenshot(window.data_panel, "data_panel_threshold_explorer")
    explorer.prepare()
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 2, timeout=60_000)
    qtbot.waitUntil(lambda: window.data_panel.dataset_id == window.browser.dataset_ids()[1], timeout=10_000)
    assert "demo, 10 min" in explorer.prepare_status.text()
    assert window.data_panel.statistics.value_text("Sessions") == f"{expected.sessions:,}"
    explorer.prepare()
    qtbot.waitUntil(lambda: "already stored" in explorer.prepare_status.text(), timeout=10_000)
    assert len(window.browser.dataset_ids()) == 2
    wait_idle(qtbot, window)


def test_the_gap_histogram_switches_to_a_log_count_axis(window) -> None:
    explorer = window.data_panel.explorer
    assert not explorer.empty_text.isVisible()
    explorer.log_counts.setChecked(True)
    assert explorer.plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert explorer.plot.getAxis("left").labelText == "Gaps (log scale)"
    save_screenshot(window.data_panel, "data_panel_log_counts")
    explorer.log_counts.setChecked(False)
    assert not explorer.plot.getPlotItem().ctrl.logYCheck.isChecked()


def test_an_unsaved_exploration_survives_refreshes_and_a_workspace_switch_clears_it(window, qtbot, tmp_path) -> None:
    explorer = window.data_panel.explorer
    explorer.form.threshold_spin.setValue(7.0)
    explorer.form.min_item_support.setValue(3)
    qtbot.waitUntil(lambda: not explorer.figures_pending(), timeout=10_000)
    assert explorer.is_modified()
    overviews = []
    window.state.changed.connect(overviews.append)
    for _ in range(2):  # what runs starting and finishing, and imports, do to the window
        window.refresh()
        qtbot.waitUntil(lambda: bool(overviews), timeout=30_000)
        overviews.clear()
    window.queue.run_finished.emit(12345, "finished", "")
    qtbot.wait(100)
    assert abs(explorer.form.threshold_spin.value() - 7.0) < 1e-9 and explorer.form.min_item_support.value() == 3
    window.open_workspace(tmp_path / "other.sqlite")
    qtbot.waitUntil(lambda: window.url is not None and window.url.endswith("other.sqlite"), timeout=60_000)
    wait_for_overview(qtbot, window, lambda overview: overview.datasets == [])
    assert explorer.log_id() is None and explorer.last_figures is None
    assert window.data_panel.statistics.rowCount() == 0 and window.training_panel.runs_view.run_ids() == []
    assert window.browser.invitation.isVisible() and window.results_panel.dataset_id is None
    wait_idle(qtbot, window)
