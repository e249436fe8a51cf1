"""The Results panel's remembered choices and significance level, on runs with hand-made ranks in
two datasets: the reference model per dataset (across dataset switches and a new panel on the
same settings, falling back to the default when its runs are gone) and the level the Wilcoxon
tests pair by (the table equals the engine's comparison at that level)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.results import ResultsPanel
from app.results.comparison_model import format_value
from app.settings import AppSettings
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING, SyntheticConfig, generate_log
from engine.evaluation.evaluator import EvaluationSettings
from engine.runs import records
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log
from engine.workbench.results import collect_results, comparison
from tests.app_results_support import fake_evaluated_run

#: five users with one test session of 8 predictions each
N_SESSIONS, PREDICTIONS = 5, 8
USER = np.repeat(np.arange(N_SESSIONS), PREDICTIONS)
POSITION = np.tile(np.arange(1, PREDICTIONS + 1), N_SESSIONS)
HISTORY = np.where(USER < 2, 3, 10)
#: RNN (the default reference) never hits the top 5, Pop three times a session, Personal Pop always:
#: per event the differences are many and significant, per session there are only five pairs
#: (p >= 1/16), so the marks differ between the levels.
RANKS = {
    "rnn": np.full(N_SESSIONS * PREDICTIONS, 10.0),
    "pop": np.where(POSITION <= 3, POSITION, 10.0),
    "personal-pop": np.where(POSITION % 2 == 0, 1.0, 2.0),
}
RNN, POP, PERSONAL_POP = "RNN, small", "Pop", "Personal Pop, popularity fill"


@pytest.fixture
def datasets(tmp_path: Path) -> tuple[Path, list[int], dict[tuple[int, str], int]]:
    """(workspace path, two dataset ids, run id by (dataset, model)): the same runs in both."""
    log_path = tmp_path / "small.parquet"
    generate_log(SyntheticConfig(n_users=60, n_items=80, n_topics=4, seed=3)).to_parquet(log_path)
    path = tmp_path / "ws.sqlite"
    dataset_ids, run_ids = [], {}
    with Workspace(path) as workspace:
        for name, support in (("first", 2), ("second", 3)):
            request = ImportRequest(log_path, mapping=SYNTHETIC_MAPPING, name=name,
                                    settings=PrepareSettings(min_item_support=support))
            dataset_id = import_log(workspace, request).dataset_id
            dataset_ids.append(dataset_id)
            for model, ranks in RANKS.items():
                run_ids[(dataset_id, model)] = fake_evaluated_run(
                    workspace, dataset_id, model, 0, ranks, user=USER, session=USER, position=POSITION,
                    history=HISTORY, session_length=PREDICTIONS + 1)
    assert len(set(dataset_ids)) == 2
    return path, dataset_ids, run_ids


def open_panel(qtbot, path: Path, settings: AppSettings) -> ResultsPanel:
    panel = ResultsPanel(path, settings=settings)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    return panel


def show(qtbot, panel: ResultsPanel, dataset_id: int) -> None:
    """Show ``dataset_id`` and wait for its table."""
    panel.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: not panel.busy() and panel.view is not None and panel.view.dataset_id == dataset_id,
                    timeout=20_000)


def choose_reference(qtbot, panel: ResultsPanel, model: str) -> None:
    panel.reference_combo.setCurrentText(model)
    qtbot.waitUntil(lambda: not panel.busy() and panel.view.reference == model, timeout=20_000)


@pytest.fixture
def panels(qtbot) -> Iterator[list[ResultsPanel]]:
    """The panels a test opens, shut down at its end."""
    opened: list[ResultsPanel] = []
    yield opened
    for panel in opened:
        panel.shutdown()


def test_the_reference_is_remembered_per_dataset_and_across_panels(qtbot, app_settings, datasets, panels) -> None:
    path, (first, second), _ = datasets
    panel = open_panel(qtbot, path, app_settings)
    panels.append(panel)
    show(qtbot, panel, first)
    assert panel.reference_combo.currentText() == RNN  # the default
    choose_reference(qtbot, panel, POP)
    show(qtbot, panel, second)
    assert panel.reference_combo.currentText() == RNN  # the first dataset's choice is not the second's
    choose_reference(qtbot, panel, PERSONAL_POP)
    show(qtbot, panel, first)
    assert panel.reference_combo.currentText() == POP and panel.view.reference == POP
    assert panel.table_model.index(panel.table_model.models.index(POP), 0).data() == f"{POP} (reference)"
    show(qtbot, panel, second)
    assert panel.reference_combo.currentText() == PERSONAL_POP
    panel.shutdown()

    again = open_panel(qtbot, path, AppSettings())  # a restart: new settings object, same store
    panels.append(again)
    show(qtbot, again, second)
    assert again.reference_combo.currentText() == PERSONAL_POP and again.view.reference == PERSONAL_POP
    show(qtbot, again, first)
    assert again.reference_combo.currentText() == POP and again.view.reference == POP


def test_a_reference_whose_runs_are_gone_falls_back_to_the_default(qtbot, app_settings, datasets, panels) -> None:
    path, (first, _), run_ids = datasets
    panel = open_panel(qtbot, path, app_settings)
    panels.append(panel)
    show(qtbot, panel, first)
    choose_reference(qtbot, panel, PERSONAL_POP)
    with Workspace(path) as workspace:  # its only run no longer counts as finished
        records.fail_run(workspace, run_ids[(first, "personal-pop")], "gone")
    before = panel.snapshot()
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.busy() and panel.snapshot() is not before and panel.view is not None
                    and panel.view.reference == RNN, timeout=20_000)
    assert panel.reference_combo.currentText() == RNN
    assert PERSONAL_POP not in panel.table_model.models
    assert panel.table_model.index(panel.table_model.models.index(RNN), 0).data() == f"{RNN} (reference)"

    again = open_panel(qtbot, path, AppSettings())
    panels.append(again)
    show(qtbot, again, first)
    assert again.reference_combo.currentText() == RNN


def engine_table(path: Path, dataset_id: int, reference: str, level: str):
    with Workspace(path) as workspace:
        results = collect_results(workspace, dataset_id, EvaluationSettings(ks=(5, 10, 20)))
    return comparison(results, [5], reference, level).set_index(["model", "metric"])


def assert_table_is(panel: ResultsPanel, expected, level: str) -> None:
    """Every cell's text (mean, mark) and p-value tooltip as the engine's ``expected`` rows."""
    model = panel.table_model
    checked = 0
    for row in range(model.rowCount()):
        for column in range(2, 2 + len(model.metrics)):
            name, metric = model.cell(row, column)
            want = expected.loc[(name, metric)]
            index = model.index(row, column)
            assert index.data() == format_value(want["mean"], want["std"], want["mark"])
            if name != panel.view.reference:
                tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
                assert f"on {level}s: p = {want['p_value']:.3g} " in tooltip
                checked += 1
    assert checked == 2 * 3


def test_the_level_recomputes_the_marks_as_the_engine_does_and_is_remembered(
        qtbot, app_settings, datasets, panels) -> None:
    path, (first, _), _ = datasets
    panel = open_panel(qtbot, path, app_settings)
    panels.append(panel)
    panel.show()
    assert [panel.level_combo.itemText(i) for i in range(panel.level_combo.count())] == ["events", "sessions", "users"]
    assert "Wilcoxon signed-rank test" in panel.level_combo.toolTip()
    show(qtbot, panel, first)
    assert panel.level() == "event" and panel.view.level == "event"
    by_event = engine_table(path, first, RNN, "event")
    by_session = engine_table(path, first, RNN, "session")
    # the data make the levels differ, marks included: the test would notice the level ignored
    assert (by_event["mark"] != by_session["mark"]).any()
    assert not np.allclose(by_event["p_value"].dropna(), by_session["p_value"].dropna())
    assert_table_is(panel, by_event, "event")
    assert "on <b>events</b>" in panel.footnote.text()
    event_view = panel.view

    panel.set_level("session")
    qtbot.waitUntil(lambda: not panel.busy() and panel.view.level == "session", timeout=20_000)
    assert_table_is(panel, by_session, "session")
    assert "on <b>sessions</b>" in panel.footnote.text()
    assert panel.view.breakdowns["history"] is event_view.breakdowns["history"]  # not computed again
    assert set(panel.view.table["level"]) == {"session"}  # the exported table says so

    panel.set_level("event")  # back: from the cache, no job
    assert not panel.busy() and panel.view is event_view
    panel.set_level("session")
    panel.shutdown()

    again = open_panel(qtbot, path, AppSettings())
    panels.append(again)
    assert again.level() == "session"
    show(qtbot, again, first)
    assert again.view.level == "session"
    assert_table_is(again, by_session, "session")
