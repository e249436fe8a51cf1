"""The batched evaluator: feeding protocol per history_feed, targets, positions, batching."""
from collections import defaultdict

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.errors import Cancelled, EmptyResultError, InputError
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.progress import CancelToken

torch.set_num_threads(1)

N_ITEMS = 10


def make_log(rows: list[tuple[int, int, int]], n_users: int, n_items: int = N_ITEMS) -> SessionLog:
    """rows of (user, session key, item) in log order; times are the row numbers."""
    user, session, item = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return SessionLog.from_arrays(user, session, item, np.arange(len(rows), dtype=float), n_users, n_items)


# user 0: two training sessions and a test session of 3 events
# user 1: a test session of one event (nothing to predict: skipped)
# user 2: no test session (skipped)
# user 3: no training session, a test session of 2 events
TRAIN = make_log([(0, 0, 1), (0, 0, 2), (0, 0, 3), (0, 1, 4), (0, 1, 5), (1, 2, 2), (1, 2, 9),
                  (2, 3, 7), (2, 3, 8), (2, 3, 9)], n_users=4)
TEST = make_log([(0, 0, 6), (0, 0, 7), (0, 0, 8), (1, 1, 3), (3, 2, 1), (3, 2, 2)], n_users=4)


class RecordingScorer:
    """Records, per user, every consumed (item, session_start) and every scores request ("?");
    scores: 1 for the item after the last consumed one (item + 1), 0 elsewhere."""

    def __init__(self, history_feed: str) -> None:
        self.history_feed = history_feed
        self.n_items = N_ITEMS
        self.log: dict[int, list] = defaultdict(list)
        self.assigned: list[int] = []

    def reset(self, n_slots: int) -> None:
        self.user = np.full(n_slots, -1)
        self.last = np.zeros(n_slots, dtype=np.int64)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self.user[slots] = users
        self.assigned.extend(users.tolist())

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        for s in np.flatnonzero(active):
            self.log[int(self.user[s])].append((int(items[s]), bool(session_start[s])))
        self.last[active] = items[active]

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        for s in slots:
            self.log[int(self.user[s])].append("?")
        out = torch.zeros(len(slots), N_ITEMS)
        out[torch.arange(len(slots)), torch.from_numpy((self.last[slots] + 1) % N_ITEMS)] = 1.0
        return out


TEST_STREAMS = {0: [(6, True), "?", (7, False), "?"], 3: [(1, True), "?"]}


@pytest.mark.parametrize("feed, history", [
    ("none", {0: [], 3: []}),
    ("session_inputs", {0: [(1, True), (2, False), (4, True)], 3: []}),
    ("all_events", {0: [(1, True), (2, False), (3, False), (4, False), (5, False)], 3: []}),
])
@pytest.mark.parametrize("batch_size", [1, 256])
def test_feeding_protocol(feed: str, history: dict, batch_size: int) -> None:
    scorer = RecordingScorer(feed)
    evaluate(scorer, TRAIN, TEST, EvaluationSettings(batch_size=batch_size))
    assert scorer.assigned == [0, 3]
    assert dict(scorer.log) == {u: history[u] + TEST_STREAMS[u] for u in (0, 3)}


def test_result_rows_positions_and_lengths() -> None:
    result = evaluate(RecordingScorer("session_inputs"), TRAIN, TEST, EvaluationSettings(ks=(1,)))
    frame = result.to_frame()
    assert frame["user"].tolist() == [0, 0, 3]
    assert frame["session"].tolist() == [0, 0, 2]
    assert frame["position"].tolist() == [1, 2, 1]  # the first prediction of a session is position 1
    assert frame["session_length"].tolist() == [3, 3, 2]
    assert frame["history_length"].tolist() == [2, 2, 0]
    assert frame["item"].tolist() == [7, 8, 2]  # never a session's first event
    assert frame["rank"].tolist() == [1.0, 1.0, 1.0]
    assert result.consumed_events == 3 + 2 + 1
    assert result.metrics["recall@1"] == 1.0


class HistoryScorer:
    """Deterministic scorer that depends on everything consumed: per slot, a decayed count of the
    items consumed (halved at each session start) plus a user-specific offset."""

    def __init__(self, history_feed: str, n_items: int) -> None:
        self.history_feed, self.n_items = history_feed, n_items

    def reset(self, n_slots: int) -> None:
        self.state = np.zeros((n_slots, self.n_items))
        self.user = np.zeros(n_slots, dtype=np.int64)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self.state[slots] = 0.0
        self.user[slots] = users

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self.state[active & session_start] *= 0.5
        slots = np.flatnonzero(active)
        self.state[slots, items[slots]] += 1.0

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        offset = ((self.user[slots, None] * 7 + np.arange(self.n_items)) % 5) * 0.1
        return torch.from_numpy(self.state[slots] + offset).float()


def reference_ranks(train: SessionLog, test: SessionLog, feed: str, n_items: int) -> tuple[list[float], list[int]]:
    """HistoryScorer's conservative ranks (every item scored like the target above it) and the
    number of items tied with each target, by plain Python loops over users and events."""
    ranks, ties = [], []
    for u in range(train.n_users):
        tests = [test.item[test.session == s].tolist() for s in np.unique(test.session[test.user == u])]
        if not any(len(t) >= 2 for t in tests):
            continue
        stream = []
        for s in np.unique(train.session[train.user == u]):
            items = train.item[train.session == s].tolist()
            if feed == "session_inputs":
                stream += [(i, k == 0, None) for k, i in enumerate(items[:-1])]
            elif feed == "all_events":
                stream += [(i, not stream and k == 0, None) for k, i in enumerate(items)]
        for items in tests:
            stream += [(i, k == 0, items[k + 1]) for k, i in enumerate(items[:-1])]
        state = np.zeros(n_items)
        for item, start, target in stream:
            if start:
                state *= 0.5
            state[item] += 1.0
            if target is not None:
                scores = (state + ((u * 7 + np.arange(n_items)) % 5) * 0.1).astype(np.float32)
                tied = int((scores == scores[target]).sum()) - 1
                ranks.append(1.0 + float((scores > scores[target]).sum()) + tied)
                ties.append(tied)
    return ranks, ties


def random_logs(seed: int, n_users: int = 40, n_items: int = 12) -> tuple[SessionLog, SessionLog]:
    rng = np.random.default_rng(seed)
    rows_train, rows_test, key = [], [], 0
    for u in range(n_users):
        for _ in range(rng.integers(0, 4)):
            rows_train += [(u, key, int(i)) for i in rng.integers(0, n_items, rng.integers(1, 6))]
            key += 1
        for _ in range(rng.choice(3, p=[0.1, 0.7, 0.2])):  # some users have 2 test sessions
            rows_test += [(u, key, int(i)) for i in rng.integers(0, n_items, rng.integers(1, 7))]
            key += 1
    return make_log(rows_train, n_users, n_items), make_log(rows_test, n_users, n_items)


@pytest.mark.parametrize("feed", ["none", "session_inputs", "all_events"])
def test_batched_equals_one_slot_and_a_plain_loop(feed: str) -> None:
    train, test = random_logs(seed=3)
    expected, ties = reference_ranks(train, test, feed, 12)
    assert any(ties)  # the scorer's scores tie often: the default (conservative) counts those ties
    results = [evaluate(HistoryScorer(feed, 12), train, test, EvaluationSettings(batch_size=b))
               for b in (1, 3, 256)]
    for result in results:
        assert result.rank.tolist() == expected
        assert result.tied.tolist() == ties
        assert result.user.tolist() == results[0].user.tolist()
        assert result.position.tolist() == results[0].position.tolist()
    assert len(expected) == int((test.session_length - 1).sum())


def test_session_and_user_averages() -> None:
    train, test = random_logs(seed=5)
    result = evaluate(HistoryScorer("session_inputs", 12), train, test, EvaluationSettings(ks=(3,)))
    frame = result.to_frame().assign(hit=lambda f: (f["rank"] <= 3).astype(float))
    assert result.metrics["recall@3"] == pytest.approx(frame["hit"].mean())
    per_session = frame.groupby("session")["hit"].mean().mean()
    per_user = frame.groupby("user")["hit"].mean().mean()
    assert result.mean_metrics("session")["recall@3"] == pytest.approx(per_session)
    assert result.mean_metrics("user")["recall@3"] == pytest.approx(per_user)
    assert per_session != pytest.approx(per_user)  # the log has users with two test sessions


def test_candidates_are_the_most_popular_training_items_plus_the_target() -> None:
    # training popularity: items 2 and 9 have 2 events, every other item at most 1, so with
    # n_candidates=2 the targets compete with items 2 and 9 only
    scorer = RecordingScorer("none")
    result = evaluate(scorer, TRAIN, TEST, EvaluationSettings(n_candidates=2, tie_mode="conservative"))
    # targets 7, 8, 2 each score 1; every candidate other than the target scores 0
    assert result.rank.tolist() == [1.0, 1.0, 1.0]
    assert result.n_items_ranked == 3
    scorer = RecordingScorer("none")
    scorer.scores = lambda slots: torch.zeros(len(slots), N_ITEMS)
    result = evaluate(scorer, TRAIN, TEST, EvaluationSettings(n_candidates=2, tie_mode="conservative"))
    # all tied: targets 7 and 8 rank behind both candidates; target 2 is a candidate itself
    assert result.rank.tolist() == [3.0, 3.0, 2.0]


def test_nan_scores_rank_last_and_are_counted() -> None:
    scorer = RecordingScorer("none")
    scorer.scores = lambda slots: torch.full((len(slots), N_ITEMS), float("nan"))
    result = evaluate(scorer, TRAIN, TEST)
    assert result.rank.tolist() == [10.0, 10.0, 10.0]
    assert result.n_nonfinite_targets == 3


def test_errors() -> None:
    with pytest.raises(InputError):
        evaluate(HistoryScorer("none", N_ITEMS + 1), TRAIN, TEST)
    with pytest.raises(InputError):
        evaluate(RecordingScorer("sessions"), TRAIN, TEST)
    with pytest.raises(EmptyResultError):
        evaluate(RecordingScorer("none"), TRAIN, TEST.select_sessions(np.array([False, True, False])))
    with pytest.raises(InputError):
        EvaluationSettings(ks=(0,))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        evaluate(RecordingScorer("none"), TRAIN, TEST, cancel=token)


def test_progress_reaches_one() -> None:
    reports: list[float] = []
    evaluate(RecordingScorer("none"), TRAIN, TEST, progress=lambda f, m: reports.append(f))
    assert reports[-1] == 1.0


def test_candidate_ranking_asks_only_for_the_candidate_columns_when_the_scorer_can() -> None:
    """A scorer with ``scores_of`` is asked for the N candidates plus the batch's targets only,
    and the ranks equal those computed from full score rows."""
    full = evaluate(RecordingScorer("none"), TRAIN, TEST, EvaluationSettings(n_candidates=2, tie_mode="median"))
    scorer = RecordingScorer("none")
    asked: list[list[int]] = []

    def scores_of(slots: np.ndarray, items: np.ndarray) -> torch.Tensor:
        asked.append(items.tolist())
        return scorer.scores(slots)[:, torch.from_numpy(items)]

    scorer.scores_of = scores_of
    result = evaluate(scorer, TRAIN, TEST, EvaluationSettings(n_candidates=2, tie_mode="median"))
    assert result.rank.tolist() == full.rank.tolist()
    assert asked and all(items[:2] == [2, 9] and len(items) > 2 for items in asked)  # candidates, then targets


def test_network_scores_of_candidates_match_its_full_scores() -> None:
    from engine.models.network import RecurrentNetwork
    from engine.models.stream_scorers import RecurrentStreamScorer
    from engine.training.config import TrainConfig

    config = TrainConfig(model="hrnn-init", session_units=8, user_units=8)
    network = RecurrentNetwork(config.network_spec(N_ITEMS), seed=1)
    settings = EvaluationSettings(n_candidates=3, tie_mode="conservative")
    fast = evaluate(RecurrentStreamScorer(network, "hrnn-init"), TRAIN, TEST, settings)
    scorer = RecurrentStreamScorer(network, "hrnn-init")
    scorer.scores_of = None  # the evaluator falls back to full rows
    slow = evaluate(scorer, TRAIN, TEST, settings)
    assert fast.rank.tolist() == slow.rank.tolist()
    assert fast.n_items_ranked == 4
