"""The Results panel on a workspace of real evaluated runs: the table equals the engine's
comparison, best values in bold, the K selector, breakdown plots read back from their items, the
runs behind a cell or a bar, exports, a run without checkpoint, the verdict as a forest plot, and
screenshots."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from app.results import ResultsPanel
from app.results.comparison_model import format_value
from engine.evaluation.evaluator import EvaluationSettings
from engine.progress import CancelToken, no_progress
from engine.storage.workspace import Workspace
from engine.workbench.comparison_view import ALL_RUNS, forest_data, run_selections
from engine.workbench.results import breakdown, collect_results, comparison, dataset_popularity, load_results
from tests.app_results_support import WITHOUT_CHECKPOINT, build_evaluated_workspace
from tests.app_support import save_screenshot


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Path, int, dict[str, list[int]]]:
    return build_evaluated_workspace(tmp_path_factory.mktemp("results"))


@pytest.fixture
def panel(qtbot, app_settings, evaluated) -> Iterator[ResultsPanel]:
    path, dataset_id, _ = evaluated
    widget = ResultsPanel(path, settings=app_settings)
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    widget.set_dataset(dataset_id)
    wait_until_shown(qtbot, widget)
    yield widget
    widget.shutdown()


def wait_until_shown(qtbot, panel: ResultsPanel) -> None:
    qtbot.waitUntil(lambda: not panel.busy() and panel.view is not None, timeout=30_000)


def engine_results(path: Path, dataset_id: int):
    with Workspace(path) as workspace:
        return collect_results(workspace, dataset_id, EvaluationSettings(ks=(5, 10, 20))), \
            dataset_popularity(workspace, dataset_id)


def cell_texts(panel: ResultsPanel) -> dict[tuple[str, str], str]:
    model = panel.table_model
    return {model.cell(row, column): model.index(row, column).data()
            for row in range(model.rowCount()) for column in range(2, 2 + len(model.metrics))}


def test_table_shows_the_engine_comparison_with_marks_and_best_in_bold(panel, evaluated) -> None:
    path, dataset_id, _ = evaluated
    results, _ = engine_results(path, dataset_id)
    expected = comparison(results, [5], reference=panel.reference_combo.currentText())
    assert panel.reference_combo.currentText() == "RNN, small, epochs=1"  # the paper's reference by default
    texts = cell_texts(panel)
    assert len(texts) == len(expected) == 5 * 3
    for row in expected.itertuples():
        assert texts[(row.model, row.metric)] == format_value(row.mean, row.std, row.mark)
    model = panel.table_model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["Model", "Seeds", "Recall@5", "MRR@5", "Precision@5", "Tied", "Items tied", "Given nothing"]
    for column, metric in enumerate(model.metrics, start=2):
        best = expected[expected["metric"] == metric]["mean"].max()
        for row in range(model.rowCount()):
            font = model.index(row, column).data(Qt.ItemDataRole.FontRole)
            mean = expected.set_index(["model", "metric"]).loc[(model.models[row], metric), "mean"]
            is_best = math.isclose(mean, best)
            assert (font is not None and font.bold()) == is_best
    # a run without its checkpoint still has its stored metrics in the table
    assert any(m.startswith("RNN Concat") for m in model.models)


def test_k_and_reference_selectors_recompute_the_table(qtbot, panel, evaluated) -> None:
    path, dataset_id, _ = evaluated
    results, _ = engine_results(path, dataset_id)
    panel.k_combo.setCurrentIndex(2)
    panel.reference_combo.setCurrentText("Pop")
    qtbot.waitUntil(lambda: panel.view.k == 20 and panel.view.reference == "Pop", timeout=20_000)
    model = panel.table_model
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(2, 5)] == ["Recall@20", "MRR@20",
                                                                                    "Precision@20"]
    expected = comparison(results, [20], reference="Pop")
    texts = cell_texts(panel)
    for row in expected.itertuples():
        assert texts[(row.model, row.metric)] == format_value(row.mean, row.std, row.mark)
    assert model.index(0, 0).data() == "Pop (reference)"
    panel.k_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: panel.view.k == 5, timeout=20_000)
    panel.k_combo.setCurrentIndex(2)  # back to K = 20: served from the cache, no job
    assert not panel.busy() and panel.view.k == 20


def test_breakdown_plots_draw_the_engine_breakdowns(panel, evaluated) -> None:
    path, dataset_id, _ = evaluated
    results, popularity = engine_results(path, dataset_id)
    for kind in ("history", "position", "popularity"):
        expected = breakdown(results, kind, [5], popularity if kind == "popularity" else None)
        plot = panel.plots[kind]
        assert plot.groups == list(dict.fromkeys(expected["group"]))
        assert set(plot.bars) == set(results.models)
        for model, rows in expected.groupby("model", sort=False):
            heights, errors = plot.bar_values(model)
            np.testing.assert_allclose(heights, rows["recall@5_mean"].to_numpy())
            np.testing.assert_allclose(errors, rows["recall@5_std"].to_numpy())  # NaN for one seed
    assert panel.plots["history"].group_labels[0].startswith("short history")
    assert panel.plots["position"].group_labels == [
        label for label in panel.plots["position"].group_labels if label.split()[0] in ("beginning", "middle", "end")]
    panel.metric_combo.setCurrentIndex(1)  # MRR
    heights, _ = panel.plots["history"].bar_values("Pop")
    pop = breakdown(results, "history", [5])
    np.testing.assert_allclose(heights, pop[pop["model"] == "Pop"]["mrr@5_mean"].to_numpy())
    assert "MRR@5" in panel.plots["history"].plot_item.getAxis("left").labelText


def test_selecting_a_cell_lists_its_runs(panel, evaluated) -> None:
    _, _, run_ids = evaluated
    model = panel.table_model
    row = next(r for r, name in enumerate(model.models) if name.startswith("HRNN Init"))
    panel.table.setCurrentIndex(model.index(row, 3))  # MRR@5
    assert panel.details.run_ids() == run_ids["hrnn-init"]
    assert panel.details.table.horizontalHeaderItem(2).text() == "MRR@5"
    row = next(r for r, name in enumerate(model.models) if name.startswith("RNN Concat"))
    panel.table.setCurrentIndex(model.index(row, 2))
    assert panel.details.run_ids() == run_ids[WITHOUT_CHECKPOINT]
    assert panel.details.table.item(0, 4).text() == "missing"


def test_clicking_a_bar_lists_its_runs_and_group_size(qtbot, panel, evaluated) -> None:
    path, dataset_id, run_ids = evaluated
    panel.plot_tabs.setCurrentIndex(0)
    plot = panel.plots["history"]
    rnn = next(m for m in plot.bars if m.startswith("RNN, "))
    scene_point = plot.plot_item.vb.mapViewToScene(plot.bar_centre(rnn, "long"))
    QTest.mouseClick(plot.plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot.plot_widget.mapFromScene(scene_point))
    qtbot.waitUntil(lambda: panel.details.run_ids() == run_ids["rnn"], timeout=5_000)
    results, _ = engine_results(path, dataset_id)
    events = results.events[rnn][0]
    long = events[events["history_length"] > 6]
    text = panel.details.summary.text()
    assert f"{len(long):,} events" in text and f"{long['user'].nunique():,} users" in text


def test_exports_write_valid_files(panel, tmp_path) -> None:
    panel.export_table(tmp_path / "table.csv")
    table = pd.read_csv(tmp_path / "table.csv")
    assert len(table) == len(panel.table_model.models) * 3
    assert set(table["metric"]) == {"recall@5", "mrr@5", "precision@5"}
    panel.export_plot(tmp_path / "history.png", "history")
    assert (tmp_path / "history.png").stat().st_size > 0
    panel.export_plot(tmp_path / "position.svg", "position")
    root = ElementTree.parse(tmp_path / "position.svg").getroot()
    assert root.tag.endswith("svg")


def test_screenshot(qtbot, panel) -> None:
    model = panel.table_model
    panel.table.setCurrentIndex(model.index(len(model.models) - 1, 2))
    qtbot.wait(50)
    save_screenshot(panel, "results")
    panel.plot_tabs.setCurrentIndex(1)
    plot = panel.plots["position"]
    plot.select_bar(next(iter(plot.bars)), plot.groups[-1])
    qtbot.wait(50)  # let the layouts settle
    save_screenshot(panel, "results_position")


def show_verdict(qtbot, panel: ResultsPanel):
    """The "Verdict (forest plot)" page, once its figure is computed."""
    panel.view_bar.setCurrentIndex(1)
    page = panel.verdict
    qtbot.waitUntil(lambda: page.plot.data is not None, timeout=60_000)
    return page


def test_the_forest_plot_draws_every_model_against_the_reference_with_twins_linked(qtbot, panel, evaluated,
                                                                                   tmp_path: Path) -> None:
    page = show_verdict(qtbot, panel)
    data = page.plot.data
    assert data is not None
    labels = [row.label for row in data.rows]
    assert len(labels) == len(set(labels)) == 5  # Pop, Personal Pop, RNN, HRNN Init, RNN Concat
    reference = [row for row in data.rows if row.difference is None]
    assert len(reference) == 1 and reference[0].label == data.reference
    for row in data.rows:
        if row.difference is not None and math.isfinite(row.difference.low):
            assert row.difference.low <= row.difference.relative <= row.difference.high
    # HRNN Init and RNN Concat are linked to their session-only twin RNN
    assert {(link.model.split(",")[0], link.twin.split(",")[0]) for link in data.links} == {
        ("HRNN Init", "RNN"), ("RNN Concat", "RNN")}
    # the same figures as the engine computes for every evaluated run
    path, dataset_id, _ = evaluated
    with Workspace(path) as workspace:
        url = workspace.url
    snapshot = load_results(url, dataset_id, None, no_progress, CancelToken())
    selection = next(s for s in run_selections(snapshot) if s.key == ALL_RUNS)
    engine = forest_data(snapshot, data.metric, data.reference, selection)
    assert [(r.label, r.difference) for r in engine.rows] == [(r.label, r.difference) for r in data.rows]
    # exports
    for suffix in ("png", "svg"):
        out = tmp_path / f"verdict.{suffix}"
        page.export(out)
        assert out.stat().st_size > 1000
    image = QImage(str(tmp_path / "verdict.png"))
    assert image.width() >= 600 and image.height() >= 200
    assert "<svg" in (tmp_path / "verdict.svg").read_text()[:2000]
    qtbot.wait(200)  # the plot lays its axes out on the next turns of the event loop
    save_screenshot(panel, "results_forest_plot")
