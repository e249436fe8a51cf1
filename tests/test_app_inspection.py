"""The Inspection panel on a workspace of real evaluated runs: users with their hits, the timeline,
stepping through a test session, the stored rank and the highlighted next item for chosen runs,
the items tied with the next item (Pop scores many items alike), the RNN-beside-HRNN toggle, a run
without checkpoint, and a screenshot."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.appearance import apply_appearance
from app.inspection import InspectionPanel
from app.inspection.recommendation_column import TARGET_BACKGROUND, RecommendationColumn, format_rank
from engine.runs.evaluate_run import find_evaluation, load_event_ranks
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace
from tests.app_results_support import WITHOUT_CHECKPOINT, build_evaluated_workspace
from tests.app_support import save_screenshot


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Path, int, dict[str, list[int]]]:
    return build_evaluated_workspace(tmp_path_factory.mktemp("inspection"))


@pytest.fixture(scope="module")
def stored(evaluated) -> dict[int, pd.DataFrame]:
    """Per-event ranks of every run, and the dataset's original item ids under key 0."""
    path, dataset_id, run_ids = evaluated
    with Workspace(path) as workspace:
        frames = {run_id: load_event_ranks(workspace, find_evaluation(workspace, run_id).id)
                  for ids in run_ids.values() for run_id in ids}
        frames[0] = load_prepared(workspace, dataset_id).item_ids
    return frames


@pytest.fixture
def panel(qtbot, qapp, evaluated) -> Iterator[InspectionPanel]:
    path, dataset_id, _ = evaluated
    apply_appearance(qapp)
    widget = InspectionPanel(path)
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    widget.set_dataset(dataset_id)
    wait_settled(qtbot, widget)
    yield widget
    widget.shutdown()


def wait_settled(qtbot, panel: InspectionPanel) -> None:
    qtbot.waitUntil(lambda: panel.user is not None and not panel.busy(), timeout=30_000)


def long_session_user(ranks: pd.DataFrame, min_steps: int = 3) -> int:
    steps = ranks.groupby("user")["position"].max()
    return int(steps[steps >= min_steps].index[0])


def test_opens_with_rnn_beside_hrnn_and_the_users_hits(panel, evaluated, stored) -> None:
    _, _, run_ids = evaluated
    assert panel.pair_button.isChecked()
    assert panel.chosen_runs() == [run_ids["hrnn-init"][0], run_ids["rnn"][0]]
    model = panel.user_model
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == ["User", "Sessions", "Test", f"Hits #{run_ids['hrnn-init'][0]}", f"Hits #{run_ids['rnn'][0]}"]
    assert "Hits@10" in model.headerData(3, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    ranks = stored[run_ids["rnn"][0]]
    expected = (ranks["rank"] <= 10).groupby(ranks["user"]).sum()
    for row in range(0, model.rowCount(), 37):
        user = model.user_at(row)
        assert model.index(row, 4).data() == str(int(expected.get(user, 0)))
        assert int(model.index(row, 2).data()) == int((ranks["user"] == user).sum()) + 1
    # sorted by test-session length, longest first
    proxy = panel.user_proxy
    lengths = [int(proxy.index(r, 2).data()) for r in range(proxy.rowCount())]
    assert lengths == sorted(lengths, reverse=True)


def test_filter_finds_a_user(panel) -> None:
    user_id = panel.user_model.index(5, 0).data()
    panel.filter_edit.setText(user_id)
    ids = [panel.user_proxy.index(r, 0).data() for r in range(panel.user_proxy.rowCount())]
    assert user_id in ids and all(user_id in other for other in ids)


def test_step_shows_the_stored_rank_and_highlights_the_next_item(qtbot, panel, evaluated, stored) -> None:
    _, _, run_ids = evaluated
    run_id = run_ids["rnn"][0]
    ranks = stored[run_id]
    user = long_session_user(ranks)
    assert panel.select_user(user)
    assert panel.timeline.n_rows == int(panel.user_model.index(panel.user_model.row_of(user), 1).data()) + 1
    panel.next_button.click()
    panel.next_button.click()
    assert panel.step == 3
    column = panel.columns[1]
    qtbot.waitUntil(lambda: column.table.rowCount() == 10, timeout=20_000)
    event = ranks[(ranks["user"] == user) & (ranks["position"] == 3)].iloc[0]
    target = str(stored[0][int(event["item"])])
    assert f"Next item <b>{target}</b>: rank <b>{format_rank(event['rank'])}</b>" in column.rank_label.text()
    if event["rank"] <= 10:
        row = int(event["rank"]) - 1
        assert column.target_row == row and column.items()[row] == target
        assert column.table.item(row, 1).background().color() == QColor(TARGET_BACKGROUND)
    else:
        assert column.target_row is None and target not in column.items()
    panel.k_combo.setCurrentIndex(0)  # top 5
    assert column.table.rowCount() == 5


def tied_step(ranks: pd.DataFrame, tied: bool) -> pd.Series:
    """A stored prediction (user, position, rank, tied) whose next item is tied with other items, or not."""
    chosen = ranks[(ranks["tied"] > 0) == tied]
    assert len(chosen), "the data have no such step"
    return chosen.iloc[0]


def test_a_tied_next_item_says_with_how_many_items(qtbot, panel, evaluated, stored) -> None:
    _, _, run_ids = evaluated
    pop, rnn = run_ids["pop"][0], run_ids["rnn"][0]
    panel.choose_runs([pop, rnn])
    column = panel.columns[0]
    for tied in (True, False):
        event = tied_step(stored[pop], tied)
        assert panel.select_user(int(event["user"]))
        panel.slider.setValue(int(event["position"]))
        qtbot.waitUntil(lambda: column.table.rowCount() == 10, timeout=20_000)
        text = column.rank_label.text()
        assert f": rank <b>{format_rank(event['rank'])}</b>" in text  # the stored (conservative) rank
        if tied:
            n = int(event["tied"])
            assert text.endswith(f", tied with <b>{n:,}</b> item{'s' if n != 1 else ''}")
        else:
            assert "tied" not in text
    assert "conservative ties" in column.rank_label.toolTip()


def test_a_stored_rank_says_with_how_many_items_it_is_tied(qtbot) -> None:
    column = RecommendationColumn()
    qtbot.addWidget(column)
    column.show_error("#3 RNN Concat", "its checkpoint is missing", 1_234.0, "item 7", 2_500)
    assert column.rank_label.text() == "Stored rank of the next item item 7: 1,234, tied with <b>2,500</b> items"
    column.show_error("#3 RNN Concat", "its checkpoint is missing", 12.0, "item 7", 0)
    assert column.rank_label.text() == "Stored rank of the next item item 7: 12"


def test_a_run_without_checkpoint_says_why(qtbot, panel, evaluated, stored) -> None:
    _, _, run_ids = evaluated
    (run_id,) = run_ids[WITHOUT_CHECKPOINT]
    panel.choose_runs([run_id, run_ids["pop"][0]])
    column = panel.columns[0]
    qtbot.waitUntil(lambda: column.message.isVisible(), timeout=20_000)
    assert "checkpoint" in column.message.text() and "is missing" in column.message.text()
    ranks = stored[run_id]
    stored_rank = ranks[(ranks["user"] == panel.user) & (ranks["position"] == 1)]["rank"].iloc[0]
    assert "Stored rank of the next item" in column.rank_label.text()
    assert column.rank_label.text().endswith(format_rank(stored_rank))
    qtbot.waitUntil(lambda: panel.columns[1].table.rowCount() == 10, timeout=20_000)  # Pop is refitted


def test_pair_toggle_takes_the_seed_of_the_first_run_and_restores(qtbot, panel, evaluated) -> None:
    _, _, run_ids = evaluated
    panel.choose_runs([run_ids["rnn"][1], run_ids["pop"][0], run_ids["personal-pop"][0]])
    assert not panel.pair_button.isChecked()
    panel.pair_button.click()
    assert panel.chosen_runs() == [run_ids["hrnn-init"][1], run_ids["rnn"][1]]
    panel.pair_button.click()
    assert panel.chosen_runs() == [run_ids["rnn"][1], run_ids["pop"][0], run_ids["personal-pop"][0]]
    wait_settled(qtbot, panel)


def test_screenshot(qtbot, panel, evaluated, stored) -> None:
    _, _, run_ids = evaluated
    pop = stored[run_ids["pop"][0]]
    steps = pop[(pop["tied"] > 0) & (pop["position"] >= 2)]  # Pop's next item tied with others
    panel.choose_runs([run_ids["hrnn-init"][0], run_ids["rnn"][0], run_ids["pop"][0]])
    panel.select_user(int(steps["user"].iloc[0]))
    panel.slider.setValue(int(steps["position"].iloc[0]))
    qtbot.waitUntil(lambda: all(c.table.rowCount() == 10 for c in panel.columns), timeout=20_000)
    assert "tied with" in panel.columns[2].rank_label.text()
    qtbot.wait(50)
    save_screenshot(panel, "inspection")


def test_refresh_without_new_runs_keeps_everything(qtbot, panel) -> None:
    snapshot, user, runs = panel.snapshot, panel.user, panel.chosen_runs()
    panel.next_button.click()
    panel.refresh()
    wait_settled(qtbot, panel)
    assert panel.snapshot is snapshot and panel.user == user and panel.chosen_runs() == runs and panel.step == 2


def test_attached_item_names_are_shown_beside_the_ids(qtbot, qapp, evaluated, tmp_path) -> None:
    from engine.storage.item_names import attach_item_names

    path, dataset_id, run_ids = evaluated
    with Workspace(path) as workspace:
        item_ids = load_prepared(workspace, dataset_id).item_ids
        names = tmp_path / "names.csv"
        names.write_text("item_id,title\n" + "\n".join(f"{item},Title {item}" for item in item_ids))
        attach_item_names(workspace, dataset_id, names)
    widget = InspectionPanel(path)
    qtbot.addWidget(widget)
    widget.set_dataset(dataset_id)
    wait_settled(qtbot, widget)
    column = widget.columns[0]
    qtbot.waitUntil(lambda: column.table.rowCount() > 0, timeout=20_000)
    assert all(label.endswith(f"Title {label.split(' · ')[0]}") for label in column.items())
    widget.shutdown()
