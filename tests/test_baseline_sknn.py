"""SKNN, V-SKNN and V-SKNN_EBR: scores of a tiny log by hand, the session-aware options one by one,
the vectorised neighbourhood against a plain implementation of session-rec's algorithm, and bad
settings refused before any work."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from engine.baselines.sknn import (
    POSITION_WEIGHTS,
    STEP_DECAYS,
    SknnConfig,
    SknnScorer,
    VsknnConfig,
    VsknnEbrConfig,
    VsknnScorer,
    fit_sknn,
    fit_vsknn,
)
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.runs.models import build_config

torch.set_num_threads(1)

DAY = 86_400.0
# (user, session, item, day): each session's events are 1 s apart from the start of its day
ROWS = [(0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 2, 1),  # s0 = [0, 1, 2], user 0, day 1
        (1, 1, 1, 2), (1, 1, 3, 2),  # s1 = [1, 3], user 1, day 2
        (1, 2, 2, 3), (1, 2, 3, 3), (1, 2, 4, 3),  # s2 = [2, 3, 4], user 1, day 3
        (2, 3, 0, 4), (2, 3, 3, 4), (2, 3, 5, 4)]  # s3 = [0, 3, 5], user 2, day 4
N_USERS, N_ITEMS = 3, 6


def make_log(rows: list[tuple[int, int, int, float]], n_users: int = N_USERS, n_items: int = N_ITEMS) -> SessionLog:
    user, session, item, day = (np.array(column) for column in zip(*rows, strict=True))
    second = np.arange(len(rows)) - np.searchsorted(session, session)  # position in the session
    return SessionLog.from_arrays(user.astype(np.int64), session, item.astype(np.int64), day * DAY + second,
                                  n_users, n_items)


TRAIN = make_log(ROWS)


def session_scores(scorer, user: int, items: list[int], now: float | None = None) -> np.ndarray:
    """The scores after ``user`` consumed ``items`` as one new session (at time ``now``)."""
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([user]))
    for position, item in enumerate(items):
        if now is not None:
            scorer.observe_times(np.array([now]), np.array([True]))
        scorer.consume(np.array([item]), np.array([position == 0]), np.array([True]))
    return scorer.scores(np.array([0]))[0].numpy().astype(np.float64)


def test_sknn_cosine_neighbours_by_hand() -> None:
    # query {1, 2}; candidates s0 {0,1,2} (2 shared), s1 {1,3} (1), s2 {2,3,4} (1); s3 shares nothing
    c0, c1, c2 = 2 / math.sqrt(2 * 3), 1 / math.sqrt(2 * 2), 1 / math.sqrt(2 * 3)
    scores = session_scores(SknnScorer.fit(SknnConfig(), TRAIN), 0, [1, 2])
    assert scores == pytest.approx([c0, c0 + c1, c0 + c2, c1 + c2, c2, 0.0])
    # k = 1: the most similar, s0, alone
    assert session_scores(SknnScorer.fit(SknnConfig(k=1), TRAIN), 0, [1, 2]) == pytest.approx([c0, c0, c0, 0, 0, 0])
    # a sample of 2: the two most recent candidates, s2 (day 3) and s1 (day 2); s0 is not considered
    sampled = session_scores(SknnScorer.fit(SknnConfig(sample_size=2), TRAIN), 0, [1, 2])
    assert sampled == pytest.approx([0.0, c1, c2, c1 + c2, c2, 0.0])


def test_sknn_neighbours_of_equal_similarity_the_more_recent_first() -> None:
    # query {3}: s1 {1,3} 1/sqrt2 beats s2 {2,3,4} and s3 {0,3,5} (1/sqrt3 each); k = 2 keeps s1 and the
    # more recent of the tied two, s3 (day 4)
    scores = session_scores(SknnScorer.fit(SknnConfig(k=2), TRAIN), 0, [3])
    c1, c3 = 1 / math.sqrt(2), 1 / math.sqrt(3)
    assert scores == pytest.approx([c3, c1, 0.0, c1 + c3, 0.0, c3])


# V-SKNN on query [1, 2] (L = 2, weights div: item 1 at p=1 -> 1/2, item 2 at p=2 -> 1; 2 distinct items):
# s0 overlap 1.5 -> sim 0.75, latest shared item 2 (p=2) -> step 1 -> decay 1
# s1 overlap 0.5 -> sim 0.25, latest shared item 1 (p=1) -> step 2 -> decay 1/2
# s2 overlap 1.0 -> sim 0.5, latest shared item 2 -> step 1 -> decay 1
S0, S1, S2 = 0.75, 0.25 * 0.5, 0.5
VSKNN_NO_IDF = np.array([S0, S0 + S1, S0 + S2, S1 + S2, S2, 0.0])
# sessions with each item: 0: 2, 1: 2, 2: 2, 3: 3, 4: 1, 5: 1 of 4 -> idf = ln(4 / n)
IDF = np.log(4 / np.array([2, 2, 2, 3, 1, 1]))


def test_vsknn_position_weights_step_decay_and_idf_by_hand() -> None:
    no_idf = VsknnScorer.fit(VsknnConfig(idf_weighting=0.0), TRAIN)
    assert session_scores(no_idf, 0, [1, 2]) == pytest.approx(VSKNN_NO_IDF)
    default = VsknnScorer.fit(VsknnConfig(), TRAIN)  # idf weight 10
    assert session_scores(default, 0, [1, 2]) == pytest.approx(VSKNN_NO_IDF * (1 + 10 * IDF))
    # a repeated item weighs by its last position: [2, 1, 2] (L = 3) -> item 1 at 2/3, item 2 at 1; 2 distinct
    # s0 (1 + 2/3) / 2, step 1; s1 (2/3) / 2, latest shared item 1 at p=2 -> step 2; s2 1/2, step 1
    r0, r1, r2 = (5 / 3) / 2, (1 / 3) * 0.5, 0.5
    assert session_scores(no_idf, 0, [2, 1, 2]) == pytest.approx([r0, r0 + r1, r0 + r2, r1 + r2, r2, 0.0])


def test_vsknn_other_weightings() -> None:
    # quadratic position weights: item 1 (1/2)^2, item 2 1 -> sims s0 1.25/2, s1 0.25/2, s2 1/2;
    # quadratic step decay: s1's step 2 -> 1/4
    scorer = VsknnScorer.fit(VsknnConfig(idf_weighting=0.0, weighting="quadratic", weighting_score="quadratic"), TRAIN)
    q0, q1, q2 = 0.625, 0.125 / 4, 0.5
    assert session_scores(scorer, 0, [1, 2]) == pytest.approx([q0, q0 + q1, q0 + q2, q1 + q2, q2, 0.0])


# V-SKNN_EBR with one option at a time (idf off to keep the sums short)
OFF = dict(popularity_fill=False, idf_weighting=0.0, extend_length=0, boost=0.0, weight_base=1.0, weight_recency=0.0,
           weight_similarity=0.0)


def ebr(**options) -> VsknnScorer:
    return VsknnScorer.fit(VsknnEbrConfig(**{**OFF, **options}), TRAIN)


def test_ebr_with_every_option_off_is_vsknn() -> None:
    assert session_scores(ebr(), 1, [1, 2]) == pytest.approx(VSKNN_NO_IDF)


def test_extend_prefixes_the_users_latest_items_while_the_session_is_short() -> None:
    scorer = ebr(extend_length=3)
    # user 1's training items end ..., 2, 3, 4: session [0] -> query [3, 4, 0] (div: 1/3, 2/3, 1; 3 distinct)
    # s0 {0,1,2}: 1/3, latest shared 0 at p=3 -> step 1; s1 {1,3}: (1/3)/3, shared 3 at p=1 -> step 3 -> 1/3
    # s2 {2,3,4}: (1/3 + 2/3)/3, latest shared 4 at p=2 -> step 2 -> 1/2; s3 {0,3,5}: (1 + 1/3)/3, step 1
    e0, e1, e2, e3 = 1 / 3, 1 / 27, 1 / 6, 4 / 9
    assert session_scores(scorer, 1, [0]) == pytest.approx([e0 + e3, e0 + e1, e0 + e2, e1 + e2 + e3, e2, e3])
    # a session as long as the extension is not extended: user 1's [1, 2, 0] scores as V-SKNN's; and user 0,
    # whose training ends 1, 2, gets the query [1, 2, 0] from the session [0]
    assert session_scores(scorer, 1, [1, 2, 0]) == pytest.approx(session_scores(ebr(), 1, [1, 2, 0]))
    assert session_scores(scorer, 0, [0]) == pytest.approx(session_scores(ebr(), 1, [1, 2, 0]))


def test_boost_multiplies_the_similarity_of_the_users_own_sessions() -> None:
    # user 1 owns s1 and s2: with boost 1 their similarities double (0.25 -> 0.5, 0.5 -> 1)
    b1, b2 = 0.5 * 0.5, 1.0
    assert session_scores(ebr(boost=1.0), 1, [1, 2]) == pytest.approx([S0, S0 + b1, S0 + b2, b1 + b2, b2, 0.0])
    # ... which changes the neighbourhood: with k = 1 the boosted s2 (1.0) beats s0 (0.75)
    assert session_scores(ebr(boost=1.0, k=1), 1, [1, 2]) == pytest.approx([0, 0, 1.0, 1.0, 1.0, 0])
    assert session_scores(ebr(boost=1.0), 2, [1, 2]) == pytest.approx(VSKNN_NO_IDF)  # user 2 owns no neighbour


def test_reminders_add_item_recency_and_similar_past_sessions() -> None:
    now = 5 * DAY
    # user 1's last events: item 1 at 2D, item 2 at 3D, item 3 at 3D+1, item 4 at 3D+2 -> now / (now - t)
    recency = np.array([0.0, now / (3 * DAY), now / (2 * DAY), now / (2 * DAY - 1), now / (2 * DAY - 2), 0.0])
    # V-SKNN on [0]: s0 and s3 (sim 1, step 1) -> [2, 1, 1, 1, 0, 1]
    base = np.array([2.0, 1, 1, 1, 0, 1])
    scores = session_scores(ebr(weight_base=2.0, weight_recency=3.0), 1, [0], now=now)
    assert scores == pytest.approx(2 * base / base.max() + 3 * recency / recency.max())
    # session similarity over the user's 2 latest sessions, s1 {1,3} and s2 {2,3,4}; query [3]: both share
    # item 3, sims 1 each -> item 3: 2, items 1, 2, 4: 1
    similar = np.array([0.0, 1, 1, 2, 1, 0])
    vsknn = session_scores(ebr(), 1, [3])
    scores = session_scores(ebr(weight_similarity=1.0, reminder_sessions=2), 1, [3], now=now)
    assert scores == pytest.approx(vsknn / vsknn.max() + similar / similar.max())
    # one session: s2 only
    scores = session_scores(ebr(weight_similarity=1.0, reminder_sessions=1), 1, [3], now=now)
    assert scores == pytest.approx(vsknn / vsknn.max() + np.array([0.0, 0, 1, 1, 1, 0]))


def test_reminders_without_times_count_from_the_end_of_training() -> None:
    end = TRAIN.time.max()  # 4D + 2
    recency = np.array([0.0, end / (end - 2 * DAY), end / (end - 3 * DAY), end / (end - 3 * DAY - 1),
                        end / (end - 3 * DAY - 2), 0.0])
    base = np.array([2.0, 1, 1, 1, 0, 1])
    scores = session_scores(ebr(weight_recency=1.0), 1, [0])
    assert scores == pytest.approx(base / base.max() + recency / recency.max())


# A plain implementation of session-rec's V-SKNN / V-SKNN_EBR (sets, dicts and loops), the ties
# ordered as the scorer documents (more recent sessions first).

def reference_vsknn(log: SessionLog, user: int, session: list[int], config: VsknnEbrConfig, now: float,
                    aware: bool) -> np.ndarray:
    offsets = log.session_offsets
    items = [log.item[offsets[s]:offsets[s + 1]].tolist() for s in range(log.n_sessions)]
    last_time = [float(log.time[offsets[s + 1] - 1]) for s in range(log.n_sessions)]
    owner = log.session_user.tolist()
    recency = sorted(range(log.n_sessions), key=lambda s: (-last_time[s], -s))
    rank = {s: r for r, s in enumerate(recency)}
    query = list(session)
    history = log.item[log.user == user].tolist()
    if aware and len(query) < config.extend_length:
        query = history[len(history) - min(len(history), config.extend_length - len(query)):] + query
    weight = {item: POSITION_WEIGHTS[config.weighting](np.float64(p), np.float64(len(query)))
              for p, item in enumerate(query, start=1)}

    def similarity(s: int) -> float:
        return sum(weight[i] for i in set(items[s]) & set(query)) / len(weight)

    relevant = sorted((s for s in range(log.n_sessions) if set(items[s]) & set(query)), key=rank.get)
    sims = {s: similarity(s) * (1 + config.boost if aware and owner[s] == user else 1) for s in
            relevant[:config.sample_size]}
    neighbours = sorted(sims, key=lambda s: (-sims[s], rank[s]))[:config.k]
    sessions_with = np.bincount(np.concatenate([np.unique(i) for i in items]), minlength=log.n_items)
    idf = np.where(sessions_with > 0, np.log(log.n_sessions / np.maximum(sessions_with, 1)), 0.0)
    scores = np.zeros(log.n_items)
    for s in neighbours:
        step = next(step for step, item in enumerate(reversed(query), start=1) if item in items[s])
        for item in set(items[s]):
            scores[item] += sims[s] * STEP_DECAYS[config.weighting_score](np.float64(step)) * (
                1 + config.idf_weighting * idf[item])
    if not aware or (config.weight_recency == 0 and config.weight_similarity == 0):
        return scores
    last_seen = {int(i): float(t) for i, t in zip(log.item[log.user == user], log.time[log.user == user], strict=True)}
    recent = np.zeros(log.n_items)
    for item, seen in last_seen.items():
        recent[item] = now / max(now - seen, 1.0)
    similar = np.zeros(log.n_items)
    for s in [s for s in range(log.n_sessions) if owner[s] == user][-config.reminder_sessions:]:
        for item in set(items[s]):
            similar[item] += similarity(s)
    parts = [(config.weight_base, scores), (config.weight_recency, recent), (config.weight_similarity, similar)]
    return sum(w * part / part.max() if part.max() > 0 else w * part for w, part in parts if w > 0)


def random_log(rng: np.random.Generator, n_users: int = 6, n_items: int = 12) -> SessionLog:
    """Sessions of 1-6 events of a few users (repeats inside a session allowed), each user's sessions
    later than the last, all times distinct."""
    rows = []
    session = 0
    for user in range(n_users):
        start = float(rng.uniform(0, 30))
        for _ in range(int(rng.integers(1, 5))):
            for position in range(int(rng.integers(1, 7))):
                rows.append((user, session, int(rng.integers(0, n_items)), start + position * 0.01))
            start += float(rng.uniform(0.5, 3))
            session += 1
    return make_log(rows, n_users, n_items)


@pytest.mark.parametrize("aware", [False, True], ids=["V-SKNN", "V-SKNN_EBR"])
def test_vectorised_scores_equal_the_plain_algorithm(aware: bool) -> None:
    rng = np.random.default_rng(3)
    for trial in range(60):
        log = random_log(rng)
        config = VsknnEbrConfig(
            k=int(rng.choice([1, 2, 3, 100])), sample_size=int(rng.choice([1, 3, 6, 500])),
            weighting=str(rng.choice(list(POSITION_WEIGHTS))), weighting_score=str(rng.choice(list(STEP_DECAYS))),
            idf_weighting=float(rng.choice([0.0, 2.0])), extend_length=int(rng.choice([0, 3, 6])),
            boost=float(rng.choice([0.0, 0.5])), reminder_sessions=int(rng.integers(1, 4)),
            weight_base=1.0, weight_recency=float(rng.choice([0.0, 1.0])),
            weight_similarity=float(rng.choice([0.0, 2.0])), popularity_fill=False)
        scorer = fit_vsknn(config if aware else VsknnConfig(**{f.name: getattr(config, f.name) for f in
                                                               dataclasses.fields(VsknnConfig) if f.name != "model"}),
                           log)
        user = int(rng.integers(0, log.n_users))
        session = rng.integers(0, log.n_items, size=int(rng.integers(1, 5))).tolist()
        now = float(log.time.max()) + 1.0
        expected = reference_vsknn(log, user, session, config, now, aware)
        assert session_scores(scorer, user, session, now) == pytest.approx(expected, rel=1e-5, abs=1e-9), trial


def test_evaluation_of_the_tiny_log() -> None:
    # user 1's test session [1, 3, 4]: after 1, SKNN's candidates s0 {0,1,2} and s1 {1,3} (1/sqrt3, 1/sqrt2):
    # item 1 first (both), then 3 (s1, 0.707) -> target 3 has rank 2; after [1, 3]: s1 2/sqrt4 = 1,
    # s0 1/sqrt6, s2 1/sqrt6, s3 1/sqrt6 -> item 3: 1 + 2/sqrt6 and 1: 1 + 1/sqrt6 lead, then 0, 2 (2/sqrt6);
    # target 4 (1/sqrt6) shares its score with item 5 -> rank 5
    test = make_log([(1, 0, 1, 6), (1, 0, 3, 6), (1, 0, 4, 6)])
    result = evaluate(fit_sknn(SknnConfig(popularity_fill=False), TRAIN), TRAIN, test,
                      EvaluationSettings(tie_mode="standard"))
    assert result.rank.tolist() == [2.0, 5.0]


@pytest.mark.parametrize(("model", "overrides", "message"), [
    ("sknn", {"k": 0}, "Neighbours must be at least 1 (got 0)"),
    ("sknn", {"sample_size": 0}, "Sample size must be at least 1 (got 0)"),
    ("v-sknn", {"idf_weighting": -1.0}, "IDF weight must be at least 0 (got -1.0)"),
    ("v-sknn", {"weighting": "linear"}, "Position weighting must be one of div, same, log, quadratic (got 'linear')"),
    ("v-sknn-ebr", {"extend_length": -1}, "Extend to (items) must be in [0, 100] (got -1)"),
    ("v-sknn-ebr", {"boost": -0.5}, "Boost own sessions must be at least 0 (got -0.5)"),
    ("v-sknn-ebr", {"reminder_sessions": 0}, "Reminders: sessions must be in [1, 1000] (got 0)"),
    ("v-sknn-ebr", {"weight_recency": -1.0}, "Reminders: recency weight must be at least 0 (got -1.0)"),
    ("v-sknn-ebr", {"weight_base": 0.0, "weight_recency": 0.0, "weight_similarity": 0.0},
     "Reminders: the model, recency and session similarity weights are all 0"),
])
def test_bad_settings_are_refused_with_their_label_and_range(model: str, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        build_config(model, None, overrides, seed=0)


def test_fitting_refuses_bad_settings_before_touching_the_log() -> None:
    with pytest.raises(ConfigError, match="Neighbours must be at least 1"):
        fit_sknn(SknnConfig(k=0), None)  # type: ignore[arg-type]  (a log would be read first otherwise)
    with pytest.raises(ConfigError, match="Sample size must be at least 1"):
        fit_vsknn(VsknnEbrConfig(sample_size=0), None)  # type: ignore[arg-type]
