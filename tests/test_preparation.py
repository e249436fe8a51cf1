"""Sessionizing, the paper's filters in order, the last-session-out split and Table 1 statistics,
on hand-made logs whose expected results are worked out in the comments."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data.preparation import (
    NOT_IN_SPLIT,
    PREPARE_LABELS,
    TEST,
    TRAIN,
    PrepareSettings,
    prepare_events,
    sessionize,
)
from engine.data.statistics import table1_statistics
from engine.errors import EmptyResultError, InputError
from tests.logs import raw_log, session_rows

LOOSE = dict(min_item_support=1, min_session_length=2, min_user_sessions=2)


def test_gap_equal_to_threshold_stays_in_session_and_longer_gap_splits() -> None:
    raw = raw_log([("u", "a", 0), ("u", "b", 1800), ("u", "c", 3601), ("u", "d", 3602)])
    _, session = sessionize(raw, threshold_s=1800)
    # 0 -> 1800: gap == threshold, same session; 1800 -> 3601: gap 1801 > threshold, new session
    assert session.tolist() == [0, 0, 1, 1]


def test_user_change_always_starts_a_session() -> None:
    raw = raw_log([("u1", "a", 100), ("u1", "b", 110), ("u2", "c", 111), ("u2", "d", 112)])
    _, session = sessionize(raw, threshold_s=1800)
    assert session.tolist() == [0, 0, 1, 1]


def test_events_are_ordered_by_time_within_user_whatever_the_file_order() -> None:
    raw = raw_log([("u", "late", 500), ("u", "early", 100), ("v", "x", 50)])
    assert [raw.item_ids[i] for i in raw.item] == ["early", "late", "x"]


def test_given_session_column_orders_sessions_by_their_first_event() -> None:
    from pathlib import Path

    import pandas as pd

    from engine.data.column_mapping import ColumnMapping
    from engine.data.raw_log import build_raw_log

    frame = pd.DataFrame({"u": ["x"] * 4, "s": [9, 9, 1, 1], "i": ["a", "b", "c", "d"], "t": [10, 20, 30, 40]})
    raw, _ = build_raw_log(Path("given.csv"), frame, ColumnMapping("u", "i", "t", session="s"))
    order, session = sessionize(raw, 1800, use_given_sessions=True)
    # session 9 starts first (t=10) even though its label is larger
    assert [raw.item_ids[i] for i in raw.item[order]] == ["a", "b", "c", "d"]
    assert session.tolist() == [0, 0, 1, 1]


def _user_with_sessions(user: str, sessions: list[list[str]], start: int = 0) -> list[tuple]:
    rows: list[tuple] = []
    for index, items in enumerate(sessions):
        rows += session_rows(user, start + index * 10_000, items)
    return rows


def test_repeats_of_item_and_type_dropped_within_a_session_only() -> None:
    rows = [("u", "a", 0, "view"), ("u", "a", 10, "view"), ("u", "a", 20, "cart"), ("u", "b", 30, "view"),
            ("u", "a", 10_000, "view"), ("u", "b", 10_010, "view")]
    events = prepare_events(raw_log(rows), PrepareSettings(**LOOSE))
    # session 1 keeps a/view, a/cart, b/view (the second a/view is a repeat); session 2 keeps both
    assert events.filter_counts["repeats"] == 5
    assert PrepareSettings(**LOOSE, drop_repeats=False) and \
        prepare_events(raw_log(rows), PrepareSettings(**LOOSE, drop_repeats=False)).filter_counts["repeats"] == 6


def test_dropped_event_types_and_unknown_type_named() -> None:
    rows = [("u", "a", 0, "view"), ("u", "b", 10, "delete"), ("u", "c", 20, "view"),
            ("u", "a", 10_000, "view"), ("u", "c", 10_010, "view")]
    events = prepare_events(raw_log(rows), PrepareSettings(**LOOSE, drop_event_types=("delete",)))
    assert events.filter_counts["event types"] == 4
    with pytest.raises(InputError, match="purchase"):
        prepare_events(raw_log(rows), PrepareSettings(**LOOSE, drop_event_types=("purchase",)))


def test_filters_run_in_the_papers_order_once_by_default() -> None:
    # support >= 2, session length >= 3, user sessions >= 2.
    # u1: [a b c] [a b c] [a b x]   x has support 1 -> removed first, so session 3 has 2 events -> removed;
    # u2: [d e f] [d e g]           g has support 1 -> session [d e] too short -> u2 keeps 1 session -> removed;
    #     with u2 gone, d/e/f keep support 1... but one pass does not re-check support.
    # u3: [d e f] [a b c]           both sessions survive the first pass: f had support 2 (u2 and u3).
    rows = _user_with_sessions("u1", [["a", "b", "c"], ["a", "b", "c"], ["a", "b", "x"]]) + \
        _user_with_sessions("u2", [["d", "e", "f"], ["d", "e", "g"]]) + \
        _user_with_sessions("u3", [["d", "e", "f"], ["a", "b", "c"]])
    settings = PrepareSettings(min_item_support=2, min_session_length=3, min_user_sessions=2)
    events = prepare_events(raw_log(rows), settings)
    counts = events.filter_counts
    assert counts["read"] == 21
    assert counts["item support"] == 21 - 2  # x and g removed
    assert counts["session length"] == 19 - 2 - 2  # u1's third session (a b) and u2's second (d e)
    assert counts["user sessions"] == 15 - 3  # u2's remaining session
    assert events.n_events == 12
    # repeating until stable: d, e, f now have support 1 -> u3's first session goes -> u3 has 1 session -> gone
    stable = prepare_events(raw_log(rows), PrepareSettings(min_item_support=2, min_session_length=3,
                                                           min_user_sessions=2, repeat_until_stable=True))
    assert stable.n_events == 6  # u1's two sessions
    assert len(np.unique(stable.user)) == 1


def test_max_user_sessions_caps_very_active_users() -> None:
    rows = _user_with_sessions("busy", [["a", "b"]] * 4) + _user_with_sessions("calm", [["a", "b"]] * 2)
    events = prepare_events(raw_log(rows), PrepareSettings(**LOOSE, max_user_sessions=3))
    assert len(np.unique(events.user)) == 1


def test_last_session_out_split_cleans_unseen_items_and_short_test_sessions() -> None:
    rows = _user_with_sessions("u1", [["a", "b", "c"], ["b", "c", "a"], ["a", "new", "b"]]) + \
        _user_with_sessions("u2", [["a", "b", "c"], ["c", "b", "a"], ["new2", "a", "other"]])
    # u1's test session: 'new' is unseen in training -> removed; a, b remain (2 events: kept)
    # u2's test session: new2 and other unseen -> only 'a' left -> session dropped
    events = prepare_events(raw_log(rows), PrepareSettings(**LOOSE))
    items = np.array([events_item for events_item in events.item])
    split = events.split
    assert (split == TEST).sum() == 2
    assert (split == NOT_IN_SPLIT).sum() == 4  # 'new' + u2's whole test session (3)
    assert (split == TRAIN).sum() == 12
    assert len(items) == 18  # Table 1 counts the filtered events before the split's cleaning


def test_validation_split_is_the_same_procedure_on_the_training_part() -> None:
    rows = _user_with_sessions("u1", [["a", "b", "c"], ["b", "c", "d"], ["a", "b", "c"]])
    events = prepare_events(raw_log(rows), PrepareSettings(**LOOSE))
    # training part = sessions 1 and 2; validation test = session 2 with 'd' unseen in session 1
    assert events.split.tolist() == [TRAIN] * 6 + [TEST] * 3
    assert events.valid_split.tolist() == [TRAIN] * 3 + [TEST, TEST, NOT_IN_SPLIT] + [NOT_IN_SPLIT] * 3


def test_statistics_of_a_hand_made_log() -> None:
    rows = _user_with_sessions("u1", [["a", "b", "c"], ["a", "b", "c", "d"]]) + \
        _user_with_sessions("u2", [["a", "b"], ["a", "b", "c"], ["b", "c"]])
    stats = table1_statistics(prepare_events(raw_log(rows), PrepareSettings(**LOOSE)))
    assert (stats["users"], stats["items"], stats["sessions"], stats["events"]) == (2, 4, 5, 14)
    assert stats["events_per_session"]["median"] == 3 and stats["events_per_session"]["mean"] == pytest.approx(14 / 5)
    assert stats["sessions_per_user"]["mean"] == 2.5
    assert stats["events_per_item"]["median"] == pytest.approx(4.0)  # a:4 b:5 c:4 d:1 -> median 4
    # u1 test [a b c d]: d unseen in training -> 3 test events; u2 test [b c]
    assert stats["test_events"] == 5 and stats["test_sessions"] == 2
    assert stats["train_events"] == 8 and stats["train_sessions"] == 3


@pytest.mark.parametrize("settings, filter_name, remedy, setting", [
    (dict(min_item_support=50), "item support", "lower the min item support to 2", "min_item_support"),
    (dict(min_item_support=1, min_session_length=9), "session length", "lower the min session length to 4",
     "min_session_length"),
    (dict(min_item_support=1, min_session_length=2, min_user_sessions=7), "user filter",
     "lower the min sessions per user to 2", "min_user_sessions"),
])
def test_filter_that_empties_the_log_is_named_with_a_relaxed_value(settings, filter_name, remedy, setting) -> None:
    """The message words the remedy without a command-line option; ``setting`` says which one to
    change (each shell names it its own way)."""
    rows = _user_with_sessions("u1", [["a", "b", "c"], ["a", "b", "c", "a2"]])
    with pytest.raises(EmptyResultError) as info:
        prepare_events(raw_log(rows), PrepareSettings(**settings))
    assert filter_name in str(info.value) and remedy in str(info.value) and "--" not in str(info.value)
    assert info.value.setting == setting and info.value.label == PREPARE_LABELS[setting]


def test_invalid_settings_are_refused_with_the_reason() -> None:
    """Refusals name the setting by its label (what the desktop forms show) and carry its name."""
    with pytest.raises(InputError, match=r"Idle threshold must be greater than 0 \(got 0\)") as info:
        PrepareSettings(session_threshold_s=0)
    assert info.value.setting == "session_threshold_s"
    with pytest.raises(InputError, match=r"Min sessions per user must be at least 2 \(got 1\)") as info:
        PrepareSettings(min_user_sessions=1)
    assert info.value.setting == "min_user_sessions"
    with pytest.raises(InputError, match=r"Max sessions per user \(3\) is below Min sessions per user \(5\)") as info:
        PrepareSettings(max_user_sessions=3)
    assert info.value.setting == "max_user_sessions"


def test_every_preparation_setting_is_declared() -> None:
    """The shells read labels, help and bounds of every preparation setting from its declaration."""
    from dataclasses import fields

    from engine.registry.settings import setting_info, settings_of

    assert [info.name for info in settings_of(PrepareSettings)] == [f.name for f in fields(PrepareSettings)]
    assert all(info.label and info.help for info in settings_of(PrepareSettings))
    maximum = setting_info(PrepareSettings, "max_user_sessions")
    assert (maximum.kind, maximum.optional, maximum.low) == (int, True, 2)
    assert maximum.problem(None) is None and maximum.problem(1) == "must be at least 2"
    drops = setting_info(PrepareSettings, "drop_event_types")
    assert drops.kind is tuple and drops.problem(("4",)) is None and drops.problem((4,)) == "must be a list of names"
