"""The Results panel's evaluation setting: choosing "top N" stores it for the dataset, the notice
says that the runs lack evaluations under it, and its button computes them in a child process."""
from __future__ import annotations

from PySide6.QtCore import Qt

from app.results import ResultsPanel
from engine.cli.main import main
from engine.storage import catalog
from tests.app_support import save_screenshot


def test_choosing_top_n_then_evaluating_the_runs(qtbot, app_settings, small_dataset) -> None:
    workspace, dataset_id = small_dataset
    url = workspace.display_name
    for model in ("pop", "personal-pop"):
        assert main(["train", str(dataset_id), "--model", model, "--workspace", url]) == 0  # among all items
    panel = ResultsPanel(url, settings=app_settings)
    qtbot.addWidget(panel)
    panel.resize(1300, 700)
    panel.show()
    panel.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: not panel.busy() and panel.view is not None, timeout=20_000)
    control, notice = panel.ranking, panel.notice
    assert control.combo.currentText() == "all items" and not notice.isVisible()
    assert "most popular" not in panel.footnote.text()

    control.combo.activated.emit(control.combo.findData(1_000))  # what a click on "top 1,000" sends
    qtbot.waitUntil(lambda: panel.snapshot() is not None and panel.snapshot().settings.n_candidates == 1_000
                    and not panel.busy(), timeout=20_000)
    assert catalog.evaluation_candidates(workspace, dataset_id) == 1_000
    assert control.combo.currentText() == "top 1,000"
    assert notice.isVisible() and notice.button.text() == "Evaluate 2 runs with conservative ties"
    assert notice.text.text() == "2 finished runs have no evaluation among top 1,000 yet."
    assert "No run has an evaluation among top 1,000 with conservative ties" in panel.status.text()

    qtbot.mouseClick(notice.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.snapshot() is not None and len(panel.snapshot().rows) == 2 and not panel.busy()
                    and panel.view is not None, timeout=60_000)
    assert not notice.isVisible()
    assert "1,000 most popular items" in panel.footnote.text()
    save_screenshot(panel, "results_ranking")
    panel.shutdown()
