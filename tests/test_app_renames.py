"""Renames reach every place at once (issue 23, item 4): a run's new name in the Results table, the
reference list, the verdict's models and Inspection's run lists; a dataset's in the panels' titles,
all without a restart."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QInputDialog

from tests.app_results_support import fake_evaluated_run
from tests.app_support import opened, wait_idle


def combo_texts(combo) -> list[str]:
    return [combo.itemText(index) for index in range(combo.count())]


def test_renamed_runs_and_datasets_show_their_new_names_everywhere(window, qtbot, monkeypatch) -> None:
    dataset_id = window.browser.dataset_ids()[0]
    n = 30
    events = dict(user=np.arange(n) % 6, session=np.arange(n) % 6, position=np.arange(n) % 3 + 1,
                  history=np.arange(n) % 3 + 1, session_length=4)
    with opened(window) as workspace:
        rnn = fake_evaluated_run(workspace, dataset_id, "rnn", 0, np.where(np.arange(n) % 2 == 0, 2.0, 30.0), **events)
        fake_evaluated_run(workspace, dataset_id, "hrnn-init", 0, np.where(np.arange(n) % 3 == 0, 1.0, 30.0), **events)
    window.refresh()
    results, inspection = window.results_panel, window.inspection_panel
    window.tabs.setCurrentWidget(inspection)  # a panel behind another tab reads when it is shown
    qtbot.waitUntil(lambda: inspection.snapshot is not None and len(inspection.snapshot.runs) == 2, timeout=60_000)
    window.tabs.setCurrentWidget(results)
    qtbot.waitUntil(lambda: results.view is not None and len(results.table_model.models) == 2, timeout=60_000)
    old = next(label for label in results.table_model.models if label.startswith("RNN"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *_args, **_kwargs: ("My tuned RNN", True))
    window.workspace_actions.rename("run", rnn)
    qtbot.waitUntil(lambda: "My tuned RNN" in results.table_model.models, timeout=60_000)
    assert old not in results.table_model.models
    assert "My tuned RNN" in combo_texts(results.reference_combo)
    assert window.browser.item_text("run", rnn) == f"#{rnn} My tuned RNN, seed 0"
    window.tabs.setCurrentWidget(inspection)  # renamed behind its tab: the new name once shown
    qtbot.waitUntil(lambda: f"#{rnn} My tuned RNN, seed 0" in combo_texts(inspection.run_combos[0]), timeout=60_000)
    window.tabs.setCurrentWidget(results)
    results.views.setCurrentIndex(1)
    qtbot.waitUntil(lambda: results.verdict.plot.data is not None, timeout=60_000)
    assert "My tuned RNN" in [row.label for row in results.verdict.plot.data.rows]
    monkeypatch.setattr(QInputDialog, "getText", lambda *_args, **_kwargs: ("Shop log", True))
    window.workspace_actions.rename("dataset", dataset_id)
    qtbot.waitUntil(lambda: results.title.text() == "Results — Shop log", timeout=60_000)
    window.tabs.setCurrentWidget(inspection)
    qtbot.waitUntil(lambda: inspection.title.text() == "Inspection — Shop log", timeout=60_000)
    assert window.training_panel.dataset_combo.currentText().startswith("Shop log")
    wait_idle(qtbot, window)
