"""The Results panel on a workspace of an earlier version: a Markov run (no popularity fill: most
items scored 0, many ties) whose only evaluation holds optimistic ranks without tie counts, beside
a Pop run evaluated now. Conservative ties leave it out and the notice says why in plain words;
optimistic ties show it (tie columns "n/a"); the notice's button evaluates it again, in a child
process, with the tie mode chosen, and its tie columns then show the engine's figures."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.results import ResultsPanel
from app.results.ties import format_tie
from engine.evaluation.evaluator import EvaluationSettings
from engine.runs.evaluate_run import evaluate_run, find_evaluation
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.workbench.results import TIE_COLUMNS, collect_results, tie_table
from tests.app_results_support import as_before_tie_counts, fake_evaluated_run
from tests.app_support import save_screenshot

MARKOV, POP = "Markov, popularity_fill=false", "Pop"


def trained(workspace, dataset_id: int, model: str, **overrides) -> int:
    (run_id,) = plan_runs(workspace, dataset_id, model, [0], overrides=overrides, device="cpu")
    assert execute_run(workspace, run_id).status == "finished"
    return run_id


def wait_for(qtbot, panel: ResultsPanel, tie_mode: str, models: int) -> None:
    qtbot.waitUntil(lambda: not panel.busy() and panel.view is not None and panel.snapshot() is not None
                    and panel.snapshot().settings.tie_mode == tie_mode
                    and len(panel.table_model.models) == models, timeout=60_000)


def row_texts(panel: ResultsPanel, name: str) -> dict[str, str]:
    model = panel.table_model
    row = model.models.index(name)
    return {model.headerData(c, Qt.Orientation.Horizontal): model.index(row, c).data()
            for c in range(model.columnCount())}


def test_old_optimistic_evaluations_are_named_and_evaluated_again(qtbot, app_settings, small_dataset) -> None:
    workspace, dataset_id = small_dataset
    markov = trained(workspace, dataset_id, "markov", popularity_fill=False)
    pop = trained(workspace, dataset_id, "pop")
    old = evaluate_run(workspace, markov, EvaluationSettings(tie_mode="standard"), device="cpu")
    as_before_tie_counts(workspace, old.id)
    evaluate_run(workspace, pop, device="cpu")

    panel = ResultsPanel(workspace.display_name, settings=app_settings)
    qtbot.addWidget(panel)
    panel.resize(1280, 720)
    panel.show()
    panel.set_dataset(dataset_id)
    try:
        wait_for(qtbot, panel, "conservative", 1)
        assert panel.table_model.models == [POP]
        notice = panel.notice
        assert notice.isVisible()
        assert notice.text.text() == (
            "1 run was evaluated by an earlier version with optimistic ties only, before tie counts were stored. "
            "A table never mixes tie modes, so it is left out of this table (conservative ties). Evaluating it "
            "again stores its tie counts, which serve every tie mode.")
        assert notice.button.text() == "Evaluate 1 run with conservative ties"
        save_screenshot(panel, "results_old_evaluations")

        panel.set_tie_mode("standard")  # the old ranks serve optimistic ties as they are
        wait_for(qtbot, panel, "standard", 2)
        assert not notice.isVisible()
        old_row = row_texts(panel, MARKOV)
        assert [old_row[title] for title in ("Tied", "Items tied", "Given nothing")] == ["n/a"] * 3
        column = panel.table_model.columnCount() - 1
        assert "before tie counts were stored" in panel.table_model.index(
            panel.table_model.models.index(MARKOV), column).data(Qt.ItemDataRole.ToolTipRole)
        optimistic_recall = float(old_row["Recall@5"].split()[0])

        panel.set_tie_mode("conservative")
        wait_for(qtbot, panel, "conservative", 1)
        assert notice.isVisible()
        qtbot.mouseClick(notice.button, Qt.MouseButton.LeftButton)
        assert notice.button.text() == "Evaluating…" and not notice.button.isEnabled()
        wait_for(qtbot, panel, "conservative", 2)
        assert not notice.isVisible()
        # evaluated again with conservative ties, tie counts stored; the old evaluation is left as it was
        assert find_evaluation(workspace, markov, EvaluationSettings(tie_mode="conservative")) is not None
        assert find_evaluation(workspace, markov, EvaluationSettings(tie_mode="standard")).id == old.id

        results = collect_results(workspace, dataset_id)
        ties = tie_table(results).set_index("model")
        titles = {"tied_share": "Tied", "mean_tied": "Items tied", "floor_share": "Given nothing"}
        for name in (MARKOV, POP):
            texts = row_texts(panel, name)
            assert all(texts[titles[c]] == format_tie(c, ties.loc[name, c]) for c in TIE_COLUMNS)
        assert ties.loc[MARKOV, "tied_share"] > 0.3  # tie-heavy: the mode matters
        conservative_recall = float(row_texts(panel, MARKOV)["Recall@5"].split()[0])
        assert conservative_recall < optimistic_recall
        assert conservative_recall == round(float(results.runs.set_index("model").loc[MARKOV, "recall@5"]), 4)
    finally:
        panel.shutdown()


def test_the_notice_evaluates_with_the_tie_mode_chosen(qtbot, app_settings, small_dataset) -> None:
    """A Pop run (refitted to evaluate it) whose only evaluation is an old optimistic one, shown with
    median ties: the button evaluates it with median ties, which then serve conservative ones too."""
    workspace, dataset_id = small_dataset
    n = 4
    run_id = fake_evaluated_run(workspace, dataset_id, "pop", 0, [1, 2, 3, 40], user=np.zeros(n, dtype=np.int64),
                                session=np.zeros(n, dtype=np.int64), position=np.arange(1, n + 1),
                                history=np.full(n, 3), session_length=n + 1,
                                settings=EvaluationSettings(tie_mode="standard"))
    as_before_tie_counts(workspace, find_evaluation(workspace, run_id, EvaluationSettings(tie_mode="standard")).id)
    panel = ResultsPanel(workspace.display_name, settings=app_settings)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_tie_mode("median")
    panel.set_dataset(dataset_id)
    try:
        qtbot.waitUntil(lambda: not panel.busy() and panel.snapshot() is not None
                        and panel.snapshot().settings.tie_mode == "median", timeout=20_000)
        assert panel.view is None and panel.notice.isVisible()
        assert "(median ties)" in panel.notice.text.text()
        assert panel.notice.button.text() == "Evaluate 1 run with median ties"
        qtbot.mouseClick(panel.notice.button, Qt.MouseButton.LeftButton)
        wait_for(qtbot, panel, "median", 1)
        assert find_evaluation(workspace, run_id, EvaluationSettings(tie_mode="median")) is not None
        assert find_evaluation(workspace, run_id, EvaluationSettings(tie_mode="conservative")) is None
        panel.set_tie_mode("conservative")  # served by the median evaluation's tie counts
        wait_for(qtbot, panel, "conservative", 1)
        assert not panel.notice.isVisible()
    finally:
        panel.shutdown()
