"""The synthetic log generator: determinism, shape, timing, and the signals it promises to carry."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from engine.data.synthetic import (
    GENERATOR_PRESETS,
    XING_SCALE_MIN_ITEM_SUPPORT,
    SyntheticConfig,
    demo_config,
    generate_log,
    scaled_config,
    xing_scale_config,
)
from engine.errors import Cancelled, InputError
from engine.progress import CancelToken

SESSION_THRESHOLD_S = 1800


def with_sessions(log: pd.DataFrame, threshold_s: int = SESSION_THRESHOLD_S) -> pd.DataFrame:
    """The log with a ``session`` column: a new session when the user changes or the gap is
    strictly greater than ``threshold_s`` seconds (the log is sorted by user, time)."""
    user = log["user_id"].to_numpy()
    gap = np.diff(log["timestamp"].to_numpy(), prepend=0)
    starts = np.r_[True, user[1:] != user[:-1]] | (gap > threshold_s)
    return log.assign(session=np.cumsum(starts) - 1)


def paper_filtered(log: pd.DataFrame, min_item_support: int) -> pd.DataFrame:
    """The paper's one-pass filters in order: item support, sessions >= 3 events, users >= 5 sessions."""
    events = with_sessions(log)
    events = events[events.groupby("item_id")["item_id"].transform("size") >= min_item_support]
    events = events[events.groupby("session")["item_id"].transform("size") >= 3]
    return events[events.groupby("user_id")["session"].transform("nunique") >= 5]


def conditional_entropy_bits(current: np.ndarray, following: np.ndarray) -> float:
    """Plug-in estimate of H(following | current) in bits."""
    pairs = pd.DataFrame({"current": current, "following": following})
    joint = pairs.value_counts(normalize=True).to_numpy()
    marginal = pairs["current"].value_counts(normalize=True).to_numpy()
    return float(-(joint * np.log2(joint)).sum() + (marginal * np.log2(marginal)).sum())


@pytest.fixture(scope="module")
def demo_log() -> pd.DataFrame:
    return with_sessions(generate_log(demo_config(seed=3)))


def test_same_seed_gives_identical_frame_and_other_seed_differs() -> None:
    config = replace(demo_config(seed=7), n_users=200)
    pd.testing.assert_frame_equal(generate_log(config), generate_log(config))
    assert not generate_log(config).equals(generate_log(replace(config, seed=8)))


def test_columns_dtypes_and_order() -> None:
    log = generate_log(demo_config())
    assert list(log.columns) == ["user_id", "item_id", "timestamp", "event_type"]
    assert [str(t) for t in log.dtypes] == ["int64", "int64", "int64", "int8"]
    assert not log.isna().any().any()
    keys = log[["user_id", "timestamp"]].to_numpy()
    same_user = keys[1:, 0] == keys[:-1, 0]
    assert (keys[1:, 0] >= keys[:-1, 0]).all()
    assert (keys[1:, 1][same_user] > keys[:-1, 1][same_user]).all()  # strictly, so no ties
    # Mostly views, a few other XING-like types, no deletes by default.
    share = log["event_type"].value_counts(normalize=True)
    assert share[1] > 0.85 and set(share.index) <= {1, 2, 3, 5}
    # Item ids are 0..n_items-1 but do not reveal topics: popularity is not sorted by id.
    counts = np.bincount(log["item_id"], minlength=demo_config().n_items)
    assert log["item_id"].max() < demo_config().n_items
    assert abs(np.corrcoef(np.arange(len(counts)), counts)[0, 1]) < 0.2


@pytest.mark.parametrize(("n_events", "tolerance"), [(1_000, 0.35), (200_000, 0.05)])
def test_requested_size_is_met(n_events: int, tolerance: float) -> None:
    """Sizes vary with the users' random history lengths: within 5% at 200k events (thousands of
    users), within 35% at 1k events (only 20 users)."""
    log = generate_log(scaled_config(n_events, seed=1))
    assert abs(len(log) - n_events) <= tolerance * n_events


def test_demo_is_small_and_presets_are_named() -> None:
    assert set(GENERATOR_PRESETS) == {"demo", "xing_scale"}
    assert 20_000 <= len(generate_log(GENERATOR_PRESETS["demo"](0))) <= 50_000


def test_sessions_and_users_mostly_pass_the_paper_filters(demo_log: pd.DataFrame) -> None:
    session_length = demo_log.groupby("session").size()
    sessions_per_user = demo_log.groupby("user_id")["session"].nunique()
    assert (session_length >= 3).mean() > 0.8
    assert 0.0 < (session_length < 3).mean()
    assert (sessions_per_user >= 5).mean() > 0.65
    # Both history-length groups of the evaluation (<= 6 and > 6 training sessions) are populated.
    history = sessions_per_user[sessions_per_user >= 5] - 1
    assert 0.2 < (history <= 6).mean() < 0.8


def test_click_and_session_gaps(demo_log: pd.DataFrame) -> None:
    gap = np.diff(demo_log["timestamp"].to_numpy())
    same_user = np.diff(demo_log["user_id"].to_numpy()) == 0
    in_session = np.diff(demo_log["session"].to_numpy()) == 0
    click_gap = gap[in_session]
    assert 5 <= np.median(click_gap) <= 300
    assert np.quantile(click_gap, 0.99) < SESSION_THRESHOLD_S
    # A few gaps lie near the threshold, so moving it changes the sessions.
    near = (gap > 1200) & (gap <= 2400) & same_user
    assert 0.005 < near.mean() < 0.05
    session_gap = gap[same_user & ~in_session]
    assert np.median(session_gap) > 6 * 3600
    assert np.quantile(session_gap, 0.9) > 3 * 86_400


def test_users_return_to_their_own_past(demo_log: pd.DataFrame) -> None:
    """Items of a user's last session appear in that user's earlier sessions far more often than
    in a different user's earlier sessions."""
    last = demo_log.groupby("user_id")["session"].transform("max") == demo_log["session"]
    history, test = demo_log[~last], demo_log[last]
    seen = pd.MultiIndex.from_arrays([history["user_id"], history["item_id"]]).unique()
    users = np.sort(demo_log["user_id"].unique())
    other_user = pd.Series(np.roll(users, 1), index=users)
    own = pd.MultiIndex.from_arrays([test["user_id"], test["item_id"]]).isin(seen).mean()
    other = pd.MultiIndex.from_arrays(
        [other_user[test["user_id"]].to_numpy(), test["item_id"]]).isin(seen).mean()
    assert own > 3 * other and own - other > 0.15


def test_repeat_consumption_exists(demo_log: pd.DataFrame) -> None:
    first_session = demo_log.groupby(["user_id", "item_id"])["session"].transform("min")
    assert (demo_log["session"] > first_session).mean() > 0.1


def test_next_item_depends_on_current_item(demo_log: pd.DataFrame) -> None:
    """H(next | current) is well below the same estimate with each session's order shuffled
    (same topics, same sparsity bias) and far below the marginal entropy of items."""
    items = demo_log["item_id"].to_numpy()
    session = demo_log["session"].to_numpy()
    within = session[1:] == session[:-1]
    ordered = conditional_entropy_bits(items[:-1][within], items[1:][within])
    shuffled_items = items[np.lexsort((np.random.default_rng(0).random(len(items)), session))]
    shuffled = conditional_entropy_bits(shuffled_items[:-1][within], shuffled_items[1:][within])
    share = demo_log["item_id"].value_counts(normalize=True).to_numpy()
    marginal = float(-(share * np.log2(share)).sum())
    assert ordered < shuffled - 0.5
    assert ordered < marginal / 2


def test_popularity_is_long_tailed(demo_log: pd.DataFrame) -> None:
    counts = demo_log["item_id"].value_counts().to_numpy()
    top_share = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_share > 0.3  # the top 10% of items have far more than 10% of the events


def test_progress_and_cancel() -> None:
    reports: list[float] = []
    generate_log(demo_config(), progress=lambda fraction, message: reports.append(fraction))
    assert reports and reports[-1] == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        generate_log(demo_config(), cancel=token)


@pytest.mark.parametrize("change", [
    {"n_users": 0}, {"n_items": 30, "n_topics": 20}, {"repeat_probability": 1.5}, {"taste_slots": 0},
    {"repeat_probability": 0.5, "chain_probability": 0.6}, {"event_type_probabilities": (0.5, 0.4)},
])
def test_invalid_config_is_rejected(change: dict) -> None:
    with pytest.raises(InputError):
        replace(SyntheticConfig(), **change)


def test_xing_scale_matches_the_paper_after_filtering() -> None:
    """Paper Table 1 (XING): about 550k events, 11.5k users and 58k items, within 10%."""
    filtered = paper_filtered(generate_log(xing_scale_config()), XING_SCALE_MIN_ITEM_SUPPORT)
    assert len(filtered) == pytest.approx(550_000, rel=0.1)
    assert filtered["user_id"].nunique() == pytest.approx(11_500, rel=0.1)
    assert filtered["item_id"].nunique() == pytest.approx(58_000, rel=0.1)


def test_session_resumption_makes_consecutive_sessions_share_items() -> None:
    """With resumption on, a session re-visits its predecessor's items far more often; off (the
    default) draws nothing extra, so default logs are unchanged."""
    import dataclasses

    def consecutive_overlap(frame: pd.DataFrame) -> float:
        new_session = frame.groupby("user_id")["timestamp"].diff().fillna(np.inf).to_numpy() > 1800
        sessions = frame.assign(session=np.cumsum(new_session)).groupby("session").agg(
            user=("user_id", "first"), items=("item_id", lambda s: set(s)))
        same_user = sessions["user"].to_numpy()[1:] == sessions["user"].to_numpy()[:-1]
        items = sessions["items"].to_numpy()
        pairs = zip(items[:-1][same_user], items[1:][same_user], strict=True)
        return float(np.mean([len(a & b) / len(b) for a, b in pairs]))

    base = SyntheticConfig(n_users=300, n_items=900, n_topics=12, seed=4)
    plain = generate_log(base)
    pd.testing.assert_frame_equal(plain, generate_log(dataclasses.replace(base, resume_probability=0.0)))
    resumed = generate_log(dataclasses.replace(base, resume_probability=0.5))
    assert consecutive_overlap(resumed) > consecutive_overlap(plain) + 0.1


def test_revisits_can_be_limited_to_the_first_events_of_a_resumed_session() -> None:
    """With revisit_events = 2 and every position re-visited, a resumed session copies exactly its
    predecessor's first two items (where both are that long), and nothing later."""
    import dataclasses

    config = SyntheticConfig(n_users=200, n_items=900, n_topics=12, seed=5, resume_probability=1.0,
                             revisit_probability=1.0, revisit_events=2, repeat_probability=0.0,
                             near_threshold_gap_probability=0.0)
    frame = generate_log(config)
    new_session = frame.groupby("user_id")["timestamp"].diff().fillna(np.inf).to_numpy() > 1800
    frame = frame.assign(session=np.cumsum(new_session))
    sessions = [[list(items) for _, items in user.groupby("session", sort=True)["item_id"]]
                for _, user in frame.groupby("user_id", sort=False)]
    copied_first, copied_later, later = 0, 0, 0
    for user_sessions in sessions:
        for previous, session in itertools.pairwise(user_sessions):
            shared = min(len(previous), len(session))
            copied_first += sum(previous[i] == session[i] for i in range(min(2, shared)))
            later += max(shared - 2, 0)
            copied_later += sum(previous[i] == session[i] for i in range(2, shared))
    assert copied_first > 0
    assert copied_later < 0.2 * later  # only chance agreements (same topic) after the first two
    with pytest.raises(InputError, match="revisit_events"):
        dataclasses.replace(config, revisit_events=-1)
