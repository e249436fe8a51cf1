"""Breakdowns by history length, position in session, user and item popularity on a hand-made frame."""
import numpy as np
import pandas as pd
import pytest

from engine.evaluation.breakdowns import by_history_length, by_item_popularity, by_position, by_user

# user 0: 3 training sessions, test session of 6 events; user 1: 7 sessions, 5 events;
# user 2: 10 sessions, 3 events
EVENTS = pd.DataFrame({
    "user": [0] * 5 + [1] * 4 + [2] * 2,
    "session": [0] * 5 + [1] * 4 + [2] * 2,
    "position": [1, 2, 3, 4, 5, 1, 2, 3, 4, 1, 2],
    "session_length": [6] * 5 + [5] * 4 + [3] * 2,
    "history_length": [3] * 5 + [7] * 4 + [10] * 2,
    "item": [0, 1, 9, 9, 4, 5, 6, 7, 8, 2, 3],
    "rank": [1.0, 2, 10, 3, 1, 6, 1, 1, 20, 1, 7],
})


def test_by_history_length() -> None:
    table = by_history_length(EVENTS)
    assert table.index.tolist() == ["short", "long"]
    assert table["recall@5"].tolist() == pytest.approx([4 / 5, 3 / 6])
    assert table[["n_events", "n_sessions", "n_users"]].values.tolist() == [[5, 1, 1], [6, 2, 2]]


@pytest.mark.parametrize("with_length_column", [True, False])
def test_by_position_keeps_sessions_of_five_or_more(with_length_column: bool) -> None:
    events = EVENTS if with_length_column else EVENTS.drop(columns="session_length")
    table = by_position(events)
    assert table.index.tolist() == ["beginning", "middle", "end"]
    assert table["recall@5"].tolist() == pytest.approx([3 / 4, 2 / 4, 1.0])
    assert table["mrr@5"].tolist() == pytest.approx([(1 + 1 / 2 + 0 + 1) / 4, (0 + 1 / 3 + 1 + 0) / 4, 1.0])
    assert table[["n_events", "n_sessions", "n_users"]].values.tolist() == [[4, 2, 2], [4, 2, 2], [1, 1, 1]]


def test_by_user() -> None:
    table = by_user(EVENTS, ks=(1,))
    assert table.index.tolist() == [0, 1, 2]
    assert table["recall@1"].tolist() == pytest.approx([2 / 5, 2 / 4, 1 / 2])
    assert table["n_events"].tolist() == [5, 4, 2]


def test_by_item_popularity() -> None:
    # item i has i + 1 training events: quantile edges over the 10 items are 1, 5.5, 10
    table = by_item_popularity(EVENTS, np.arange(1, 11), n_buckets=2)
    assert table.index.tolist() == [1, 2]
    assert table[["min_popularity", "max_popularity"]].values.tolist() == [[1.0, 5.5], [5.5, 10.0]]
    # bucket 1: items 0-4 (popularity 1-5), ranks 1, 2, 1, 1, 7;
    # bucket 2: items 9, 9, 5, 6, 7, 8, ranks 10, 3, 6, 1, 1, 20
    assert table["n_events"].tolist() == [5, 6]
    assert table["recall@5"].tolist() == pytest.approx([4 / 5, 3 / 6])
