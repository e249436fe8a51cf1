"""The desktop app reads every registry, never a list of its own: a metric registered at test time
appears in the Results panel (table, breakdowns, verdict), and the preparation form's labels,
tooltips and bounds are the settings' declarations."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.prepare_form import PrepareForm
from app.results.results_panel import ResultsPanel
from engine.evaluation.metrics import METRICS, MetricEntry
from engine.registry.settings import settings_of
from engine.workbench.importing import PrepareSettings
from tests.app_results_support import fake_evaluated_run


@pytest.fixture
def hit_at_half_k(monkeypatch):
    """A metric registered for the test only: a hit within the top K/2."""
    entry = MetricEntry("hithalf", "Hit@half", "Share of targets in the top K/2",
                        lambda hit, ranks, k: (ranks <= max(1, k // 2)).astype(np.float64))
    monkeypatch.setitem(METRICS._entries, entry.name, entry)
    return entry


def test_a_metric_registered_at_test_time_renders_in_the_results_panel(qtbot, app_settings, small_dataset,
                                                                       hit_at_half_k) -> None:
    workspace, dataset_id = small_dataset
    n = 40
    events = dict(user=np.arange(n) % 10, session=np.arange(n) % 10, position=np.arange(n) % 4 + 1,
                  history=np.arange(n) % 3 + 1, session_length=5)
    fake_evaluated_run(workspace, dataset_id, "rnn", 0, np.where(np.arange(n) % 2 == 0, 2.0, 9.0), **events)
    fake_evaluated_run(workspace, dataset_id, "pop", 0, np.where(np.arange(n) % 4 == 0, 1.0, 50.0), **events)
    panel = ResultsPanel(workspace.url, settings=app_settings)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    panel.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: panel.view is not None, timeout=60_000)
    model = panel.table_model
    headers = [model.headerData(column, Qt.Orientation.Horizontal) for column in range(model.columnCount())]
    assert "Hit@half@5" in headers
    column = headers.index("Hit@half@5")
    rnn_row = model.models.index(next(label for label in model.models if label.startswith("RNN")))
    assert model.index(rnn_row, column).data().startswith("0.5000")  # ranks 2 (of 40, every other) <= 5 // 2
    tooltip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "Share of targets in the top K/2 (K = 5)"
    assert [panel.metric_combo.itemText(i) for i in range(panel.metric_combo.count())][-1] == "Hit@half"
    panel.metric_combo.setCurrentIndex(panel.metric_combo.count() - 1)
    assert panel.plots["history"].plot_item.getAxis("left").labelText == "Hit@half@5"
    verdict = panel.verdict
    assert verdict.metric_combo.itemText(verdict.metric_combo.count() - 1) == "Hit@half"
    panel.views.setCurrentIndex(1)
    verdict.metric_combo.setCurrentIndex(verdict.metric_combo.count() - 1)
    qtbot.waitUntil(lambda: verdict.plot.data is not None and verdict.plot.data.metric == "hithalf@5",
                    timeout=60_000)
    assert verdict.plot.data.metric_title == "Hit@half@5"
    panel.shutdown()


def test_the_preparation_form_reads_the_settings_declarations(qtbot, qapp) -> None:
    form = PrepareForm()
    qtbot.addWidget(form)
    for info in settings_of(PrepareSettings):
        widget = form.fields[info.name]
        assert widget.toolTip().startswith(info.help), info.name
    for name in ("min_item_support", "min_session_length", "min_user_sessions"):
        info = next(i for i in settings_of(PrepareSettings) if i.name == name)
        assert getattr(form, name).minimum() == info.low
    # an optional count: "no limit" below its least value
    assert form.max_user_sessions.minimum() == 1 and form.max_user_sessions.specialValueText() == "no limit"
    assert form.settings().max_user_sessions is None
    form.max_user_sessions.setValue(40)
    assert form.settings().max_user_sessions == 40
