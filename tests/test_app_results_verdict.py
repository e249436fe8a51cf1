"""The Results panel's verdict as a picture on real evaluated runs: the forest plot holds one row
per model with the reference at 0 and each personalized model linked to its session-only twin,
its figures are the engine's paired bootstrap, it exports as PNG and SVG, and it fits 1280x720."""
from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.results import ResultsPanel
from engine.progress import CancelToken, no_progress
from engine.storage.workspace import Workspace
from engine.workbench.comparison_view import ALL_RUNS, forest_data, run_selections
from engine.workbench.results import load_results
from tests.app_results_support import build_evaluated_workspace
from tests.app_support import save_screenshot


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Path, int, dict[str, list[int]]]:
    return build_evaluated_workspace(tmp_path_factory.mktemp("verdict"))


@pytest.fixture
def panel(qtbot, app_settings, evaluated) -> Iterator[ResultsPanel]:
    path, dataset_id, _ = evaluated
    widget = ResultsPanel(path, settings=app_settings)
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    widget.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: not widget.busy() and widget.view is not None, timeout=30_000)
    yield widget
    widget.shutdown()


def show_verdict(qtbot, panel: ResultsPanel):
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
