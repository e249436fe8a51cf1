"""The Results panel's tie handling: the "Ties" selector moves every figure between conservative,
median and optimistic ranks and every place that shows figures names the mode (footnote, plot
title, exports); the tie columns show each model's tie statistics; a new panel starts at
conservative ties. Hand-made ranks with known ties, so that every number is known."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt

from app.results import ResultsPanel
from app.results.ranking_control import RankingControl
from app.settings import AppSettings
from tests.app_results_support import fake_evaluated_run

#: one user's test session of 9 events (8 predictions), a short history
USER = np.zeros(8, dtype=np.int64)
POSITION = np.arange(1, 9)
HISTORY = np.full(8, 3)
#: Pop's conservative ranks and the items tied with each target; optimistic = rank - tied,
#: median = rank - tied / 2. The last target was given nothing (floor).
POP_RANKS = [1, 4, 6, 30, 1, 7, 3, 100]
POP_TIED = [0, 3, 2, 0, 0, 5, 0, 50]
POP_FLOOR = [False] * 7 + [True]
#: Recall@5 and MRR@5 of Pop in each mode (Personal Pop has no ties: 1.0 in every mode)
POP_RECALL = {"conservative": 4 / 8, "median": 6 / 8, "standard": 6 / 8}
POP_MRR = {"conservative": (1 + 1 / 4 + 1 + 1 / 3) / 8,
           "median": (1 + 1 / 2.5 + 1 / 5 + 1 + 1 / 4.5 + 1 / 3) / 8,
           "standard": (1 + 1 + 1 / 4 + 1 + 1 / 2 + 1 / 3) / 8}
POP, PERSONAL_POP = "Pop", "Personal Pop, popularity fill"


def make_runs(workspace, dataset_id: int) -> dict[str, int]:
    common = {"user": USER, "session": USER, "position": POSITION, "history": HISTORY, "session_length": 9}
    return {POP: fake_evaluated_run(workspace, dataset_id, "pop", 0, POP_RANKS, tied=POP_TIED, floor=POP_FLOOR,
                                    **common),
            PERSONAL_POP: fake_evaluated_run(workspace, dataset_id, "personal-pop", 0, [1] * 8, **common)}


def open_panel(qtbot, url: str, dataset_id: int, settings: AppSettings) -> ResultsPanel:
    panel = ResultsPanel(url, settings=settings)
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    panel.set_dataset(dataset_id)
    wait_for_mode(qtbot, panel, "conservative")
    return panel


def wait_for_mode(qtbot, panel: ResultsPanel, tie_mode: str) -> None:
    qtbot.waitUntil(lambda: not panel.busy() and panel.view is not None and panel.snapshot() is not None
                    and panel.snapshot().settings.tie_mode == tie_mode, timeout=20_000)


def texts_of(panel: ResultsPanel, name: str) -> dict[str, str]:
    """The cells of a model's row by header."""
    model = panel.table_model
    row = model.models.index(name)
    return {model.headerData(c, Qt.Orientation.Horizontal): model.index(row, c).data()
            for c in range(model.columnCount())}


def test_the_ties_selector_moves_every_figure_and_names_the_mode(qtbot, app_settings, small_dataset,
                                                                   tmp_path: Path) -> None:
    workspace, dataset_id = small_dataset
    make_runs(workspace, dataset_id)
    panel = open_panel(qtbot, workspace.display_name, dataset_id, app_settings)
    try:
        combo = panel.ranking.ties_combo
        assert [combo.itemText(i) for i in range(combo.count())] == ["Conservative", "Median", "Optimistic"]
        assert panel.tie_mode() == "conservative"
        for tie_mode, title in (("conservative", "conservative"), ("standard", "optimistic"),
                                ("median", "median")):
            if tie_mode != panel.tie_mode():
                combo.setCurrentIndex(combo.findData(tie_mode))  # what choosing it in the list does
                wait_for_mode(qtbot, panel, tie_mode)
            pop = texts_of(panel, POP)
            assert pop["Recall@5"] == f"{POP_RECALL[tie_mode]:.4f}" and pop["MRR@5"] == f"{POP_MRR[tie_mode]:.4f}"
            assert texts_of(panel, PERSONAL_POP)["Recall@5"] == "1.0000"
            assert f"<b>{title} ties</b>" in panel.footnote.text() and "<b>all items</b>" in panel.footnote.text()
            assert "main.py" not in panel.footnote.text()  # a GUI message names no command
            heights, _ = panel.plots["history"].bar_values(POP)
            np.testing.assert_allclose(heights, [POP_RECALL[tie_mode]])
            plot_title = panel.plots["history"].plot_item.titleLabel.text
            assert f"{title} ties, ranked among all items" in plot_title

            panel.export_table(tmp_path / f"{tie_mode}.csv")
            exported = pd.read_csv(tmp_path / f"{tie_mode}.csv")
            assert set(exported["ties"]) == {tie_mode} and set(exported["candidates"]) == {"all items"}
            recall = exported[(exported["model"] == POP) & (exported["metric"] == "recall@5")]
            assert recall["mean"].tolist() == [POP_RECALL[tie_mode]]
        panel.export_plot(tmp_path / "history.svg", "history")
        assert "median ties, ranked among all items" in (tmp_path / "history.svg").read_text(encoding="utf-8")
    finally:
        panel.shutdown()

    again = open_panel(qtbot, workspace.display_name, dataset_id, AppSettings())  # a new launch
    try:
        assert again.tie_mode() == "conservative"  # never remembered: the honest default every time
        assert texts_of(again, POP)["Recall@5"] == f"{POP_RECALL['conservative']:.4f}"
    finally:
        again.shutdown()


def test_tie_columns_show_each_models_tie_statistics(qtbot, app_settings, small_dataset, tmp_path: Path) -> None:
    workspace, dataset_id = small_dataset
    run_ids = make_runs(workspace, dataset_id)
    panel = open_panel(qtbot, workspace.display_name, dataset_id, app_settings)
    try:
        model = panel.table_model
        headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
        assert headers[-3:] == ["Tied", "Items tied", "Given nothing"]
        assert "at least one competing item" in model.headerData(len(headers) - 3, Qt.Orientation.Horizontal,
                                                                 Qt.ItemDataRole.ToolTipRole)
        pop = texts_of(panel, POP)  # 4 of 8 targets tied, 60 items tied in all, 1 target given nothing
        assert (pop["Tied"], pop["Items tied"], pop["Given nothing"]) == ("50.0%", "7.5", "12.5%")
        personal = texts_of(panel, PERSONAL_POP)
        assert (personal["Tied"], personal["Items tied"], personal["Given nothing"]) == ("0.0%", "0.0", "0.0%")
        assert model.index(0, len(headers) - 1).data(Qt.ItemDataRole.FontRole) is None  # never "best"

        row, column = model.models.index(POP), headers.index("Items tied")
        panel.table.setCurrentIndex(model.index(row, column))  # the runs behind it, with their own value
        assert panel.details.run_ids() == [run_ids[POP]]
        assert panel.details.table.horizontalHeaderItem(2).text() == "Items tied"
        assert panel.details.table.item(0, 2).text() == "7.5"

        panel.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        assert model.models == [POP, PERSONAL_POP]
        panel.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
        assert model.models == [PERSONAL_POP, POP]

        panel.export_table(tmp_path / "table.csv")
        exported = pd.read_csv(tmp_path / "table.csv").drop_duplicates("model").set_index("model")
        assert exported.loc[POP, ["tied_share", "mean_tied", "floor_share"]].tolist() == [0.5, 7.5, 0.125]
    finally:
        panel.shutdown()


def test_the_ties_control_offers_conservative_first_and_explains_each_mode(qtbot) -> None:
    control = RankingControl()
    qtbot.addWidget(control)
    assert control.tie_mode() == "conservative"
    tips = [control.ties_combo.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(control.ties_combo.count())]
    assert tips[0].startswith("Conservative ties") and tips[2].startswith("Optimistic ties")
    with qtbot.waitSignal(control.tie_mode_chosen) as chosen:
        control.set_tie_mode("standard")
    assert chosen.args == ["standard"]
