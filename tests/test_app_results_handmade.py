"""The Results panel on runs whose ranks were chosen by hand, so that every number is known:
two Pop seeds and one Personal Pop run over the same eight test events."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.results import ResultsPanel
from tests.app_results_support import fake_evaluated_run

#: two users' test sessions of 5 events (4 predictions each); the first user has a short history
USER = np.array([0, 0, 0, 0, 1, 1, 1, 1])
SESSION = np.array([0, 0, 0, 0, 1, 1, 1, 1])
POSITION = np.array([1, 2, 3, 4, 1, 2, 3, 4])
HISTORY = np.array([3, 3, 3, 3, 10, 10, 10, 10])
RANKS = {
    ("pop", 0): [1, 2, 6, 30, 1, 7, 3, 100],  # recall@5 4/8, short 2/4, long 2/4
    ("pop", 1): [1, 1, 10, 10, 10, 10, 10, 2],  # recall@5 3/8, short 2/4, long 1/4
    ("personal-pop", 0): [1] * 8,
}


def fake_finished_run(workspace, dataset_id: int, model: str, seed: int, ranks: list[float]) -> int:
    return fake_evaluated_run(workspace, dataset_id, model, seed, ranks, user=USER, session=SESSION,
                              position=POSITION, history=HISTORY, session_length=5)


def test_hand_made_ranks_give_the_expected_table_and_breakdown(qtbot, app_settings, small_dataset) -> None:
    workspace, dataset_id = small_dataset
    run_ids = {key: fake_finished_run(workspace, dataset_id, *key, ranks) for key, ranks in RANKS.items()}
    panel = ResultsPanel(workspace.display_name, settings=app_settings)
    qtbot.addWidget(panel)
    panel.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: not panel.busy() and panel.view is not None, timeout=20_000)
    try:
        model = panel.table_model
        assert model.models == ["Pop", "Personal Pop, popularity fill"]
        assert model.index(0, 0).data() == "Pop (reference)"  # no RNN: the first model
        assert model.index(0, 1).data() == "2"
        spread = abs(4 / 8 - 3 / 8) / np.sqrt(2)  # sample std of two seeds
        assert model.index(0, 2).data() == f"{7 / 16:.4f} ± {spread:.4f}"
        mrr = ((1 + 1 / 2 + 1 + 1 / 3) / 8 + (1 + 1 + 1 / 2) / 8) / 2
        assert model.index(0, 3).data().startswith(f"{mrr:.4f} ± ")
        assert model.index(1, 2).data().split()[0] == "1.0000" and model.index(1, 4).data().split()[0] == "0.2000"
        for column in (2, 3, 4):
            assert model.index(1, column).data(Qt.ItemDataRole.FontRole).bold()
            assert model.index(0, column).data(Qt.ItemDataRole.FontRole) is None

        heights, errors = panel.plots["history"].bar_values("Pop")
        assert panel.plots["history"].groups == ["short", "long"]
        np.testing.assert_allclose(heights, [2 / 4, (2 / 4 + 1 / 4) / 2])
        np.testing.assert_allclose(errors, [0.0, (1 / 4) / np.sqrt(2)])
        assert panel.plots["position"].groups == ["beginning", "middle"]

        panel.table.setCurrentIndex(model.index(0, 2))
        assert panel.details.run_ids() == [run_ids[("pop", 0)], run_ids[("pop", 1)]]
        assert [panel.details.table.item(r, 2).text() for r in range(2)] == ["0.5000", "0.3750"]

        # a new run: refresh reads only its ranks and the table gets a third Pop seed
        before = panel.snapshot()
        fake_finished_run(workspace, dataset_id, "pop", 2, [1] * 8)
        panel.refresh()
        qtbot.waitUntil(lambda: not panel.busy() and panel.snapshot() is not before, timeout=20_000)
        assert model.index(0, 1).data() == "3"
        assert panel.snapshot().frames[run_ids[("pop", 0)]] is before.frames[run_ids[("pop", 0)]]
    finally:
        panel.shutdown()


def test_a_dataset_without_runs_says_so(qtbot, app_settings, small_dataset) -> None:
    workspace, dataset_id = small_dataset
    panel = ResultsPanel(workspace.display_name, settings=app_settings)
    qtbot.addWidget(panel)
    panel.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=20_000)
    try:
        assert panel.view is None and panel.table_model.rowCount() == 0
        assert "No evaluated runs" in panel.status.text()
        assert not panel.export_table_button.isEnabled()
    finally:
        panel.shutdown()
