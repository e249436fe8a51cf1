"""STAN and STAN_EBR: the three decays on a tiny log by hand, the session-aware options, the
vectorised neighbourhood against a plain implementation of session-rec's STAN, and bad settings."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from engine.baselines.stan import StanConfig, StanEbrConfig, fit_stan
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.runs.models import build_config

torch.set_num_threads(1)

DAY = 86_400.0
E = math.e


def make_log(rows: list[tuple[int, int, int, float]], n_users: int = 3, n_items: int = 6) -> SessionLog:
    """Rows (user, session, item, time in days)."""
    user, session, item, day = (np.array(column) for column in zip(*rows, strict=True))
    return SessionLog.from_arrays(user.astype(np.int64), session, item.astype(np.int64), day * DAY, n_users, n_items)


# s0 = [0, 1, 2] (user 0, ends day 1), s1 = [1, 3] (user 1, day 2), s2 = [2, 3, 4] (user 1, day 3),
# s3 = [0, 3, 5] (user 2, day 4); events of a session are a hundredth of a day apart, the last at the day
TRAIN = make_log([(0, 0, 0, 0.98), (0, 0, 1, 0.99), (0, 0, 2, 1.0), (1, 1, 1, 1.99), (1, 1, 3, 2.0),
                  (1, 2, 2, 2.98), (1, 2, 3, 2.99), (1, 2, 4, 3.0), (2, 3, 0, 3.98), (2, 3, 3, 3.99), (2, 3, 5, 4.0)])
UNIT = StanConfig(lambda_spw=1.0, lambda_snh=1.0, lambda_inh=1.0, popularity_fill=False)


def session_scores(scorer, user: int, items: list[int], now: float | None = None) -> np.ndarray:
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([user]))
    for position, item in enumerate(items):
        if now is not None:
            scorer.observe_times(np.array([now]), np.array([True]))
        scorer.consume(np.array([item]), np.array([position == 0]), np.array([True]))
    return scorer.scores(np.array([0]))[0].numpy().astype(np.float64)


# Query [1, 2] with every lambda 1: weights item 1 exp(1 - 2) = 1/e, item 2 1; |w| = sqrt(1/e^2 + 1).
# Cosines: s0 (1/e + 1) / (|w| sqrt3), s1 (1/e) / (|w| sqrt2), s2 1 / (|w| sqrt3); s3 shares nothing.
# Recency from the latest candidate, s2 (day 3): s0 exp(-2), s1 exp(-1).
NORM = math.sqrt(E ** -2 + 1)
SIM0 = (1 / E + 1) / (NORM * math.sqrt(3)) * E ** -2
SIM1 = (1 / E) / (NORM * math.sqrt(2)) * E ** -1
SIM2 = 1 / (NORM * math.sqrt(3))
# Item distances from i*, the neighbour's latest item shared with the query: s0 [0,1,2] i* = 2 (position 3)
# -> distances 2, 1, 0; s1 [1,3] i* = 1 -> 0, 1; s2 [2,3,4] i* = 2 -> 0, 1, 2
STAN_SCORES = np.array([SIM0 * E ** -2, SIM0 / E + SIM1, SIM0 + SIM2, SIM1 / E + SIM2 / E, SIM2 * E ** -2, 0.0])


def test_stan_decays_by_hand() -> None:
    assert session_scores(fit_stan(UNIT, TRAIN), 0, [1, 2]) == pytest.approx(STAN_SCORES)


def test_the_current_time_only_scales_a_prediction() -> None:
    # the paper's recency exp(-(t_now - t) / lambda) for any t_now is these scores times one factor
    now = 7 * DAY
    paper = STAN_SCORES * math.exp(-(now - 3 * DAY) / DAY)
    scores = session_scores(fit_stan(UNIT, TRAIN), 0, [1, 2], now=now)
    assert scores / scores.max() == pytest.approx(paper / paper.max())


def test_slower_decays_weigh_older_sessions_and_far_items_more() -> None:
    slow = session_scores(fit_stan(dataclasses.replace(UNIT, lambda_snh=1000.0, lambda_inh=1000.0), TRAIN), 0, [1, 2])
    # no recency or distance decay left: cosine sums
    c0, c1, c2 = (1 / E + 1) / (NORM * math.sqrt(3)), (1 / E) / (NORM * math.sqrt(2)), 1 / (NORM * math.sqrt(3))
    assert slow == pytest.approx([c0, c0 + c1, c0 + c2, c1 + c2, c2, 0.0], rel=1e-2)


OFF = dict(popularity_fill=False, lambda_spw=1.0, lambda_snh=1.0, lambda_inh=1.0, extend_length=0, boost=0.0,
           weight_base=1.0, weight_recency=0.0, weight_similarity=0.0)


def ebr(**options):
    return fit_stan(StanEbrConfig(**{**OFF, **options}), TRAIN)


def test_ebr_options_off_is_stan_and_boost_multiplies_own_sessions() -> None:
    assert session_scores(ebr(), 1, [1, 2]) == pytest.approx(STAN_SCORES)
    # user 1 owns s1 and s2: boost 1 doubles their similarities
    b1, b2 = 2 * SIM1, 2 * SIM2
    expected = [SIM0 * E ** -2, SIM0 / E + b1, SIM0 + b2, b1 / E + b2 / E, b2 * E ** -2, 0.0]
    assert session_scores(ebr(boost=1.0), 1, [1, 2]) == pytest.approx(expected)


def test_extend_by_hand() -> None:
    # user 2's training ends ..., 0, 3, 5; session [1] with extend 2 -> query [5, 1]: weights 1/e, 1,
    # |w| = NORM. Candidates s0 {0,1,2} (1, day 1), s1 {1,3} (1, day 2), s3 {0,3,5} (1/e, day 4).
    # Recency from s3: s0 exp(-3), s1 exp(-2). i*: s0 item 1 (position 2), s1 item 1 (1), s3 item 5 (3).
    sim0 = 1 / (NORM * math.sqrt(3)) * E ** -3
    sim1 = 1 / (NORM * math.sqrt(2)) * E ** -2
    sim3 = (1 / E) / (NORM * math.sqrt(3))
    expected = [sim0 / E + sim3 * E ** -2, sim0 + sim1, sim0 / E, sim1 / E + sim3 / E, 0.0, sim3]
    assert session_scores(ebr(extend_length=2), 2, [1]) == pytest.approx(expected)


def test_reminders_session_similarity_uses_stans_similarity() -> None:
    # user 1's two latest sessions s1 [1,3] and s2 [2,3,4] against query [3]: cosines 1/sqrt2 and 1/sqrt3,
    # recency from s2: s1 exp(-1) -> SSim: item 1 s1, item 2 s2, item 3 s1 + s2, item 4 s2
    s1, s2 = 1 / math.sqrt(2) / E, 1 / math.sqrt(3)
    similar = np.array([0.0, s1, s2, s1 + s2, s2, 0.0])
    stan = session_scores(ebr(), 1, [3])
    scores = session_scores(ebr(weight_similarity=2.0, reminder_sessions=2), 1, [3])
    assert scores == pytest.approx(stan / stan.max() + 2 * similar / similar.max())


# A plain implementation of session-rec's STAN / STAN_EBR (lists, sets, dicts and loops), neighbours of
# equal similarity ordered as the scorer documents (more recent first).

def reference_stan(log: SessionLog, user: int, session: list[int], config: StanEbrConfig, now: float,
                   aware: bool) -> np.ndarray:
    offsets = log.session_offsets
    items = [log.item[offsets[s]:offsets[s + 1]].tolist() for s in range(log.n_sessions)]
    last_time = [float(log.time[offsets[s + 1] - 1]) for s in range(log.n_sessions)]
    owner = log.session_user.tolist()
    rank = {s: r for r, s in enumerate(sorted(range(log.n_sessions), key=lambda s: (-last_time[s], -s)))}
    query = list(session)
    history = log.item[log.user == user].tolist()
    if aware and len(query) < config.extend_length:
        query = history[len(history) - min(len(history), config.extend_length - len(query)):] + query
    weight = {item: math.exp((p - len(query)) / config.lambda_spw) for p, item in enumerate(query, start=1)}

    def similarity(s: int) -> float:
        shared = set(items[s]) & set(query)
        cosine = sum(weight[i] for i in shared) / (math.sqrt(sum(weight[i] ** 2 for i in set(query)))
                                                   * math.sqrt(len(set(items[s]))))
        boost = 1 + config.boost if aware and owner[s] == user else 1
        return cosine * math.exp(-(now - last_time[s]) / (config.lambda_snh * DAY)) * boost

    relevant = sorted((s for s in range(log.n_sessions) if set(items[s]) & set(query)), key=rank.get)
    sims = {s: similarity(s) for s in relevant[:config.sample_size]}
    scores = np.zeros(log.n_items)
    for s in sorted(sims, key=lambda s: (-sims[s], rank[s]))[:config.k]:
        last_position = {item: position for position, item in enumerate(items[s], start=1)}
        i_star = max(position for position, item in enumerate(items[s], start=1) if item in query)
        for item in set(items[s]):
            scores[item] += sims[s] * math.exp(-abs(last_position[item] - i_star) / config.lambda_inh)
    if not aware or (config.weight_recency == 0 and config.weight_similarity == 0):
        return scores / scores.max()
    last_seen = dict(zip(log.item[log.user == user].tolist(), log.time[log.user == user].tolist(), strict=True))
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
    rows = []
    session = 0
    for user in range(n_users):
        day = float(rng.uniform(0, 20))
        for _ in range(int(rng.integers(1, 5))):
            for position in range(int(rng.integers(1, 7))):
                rows.append((user, session, int(rng.integers(0, n_items)), day + position * 1e-3))
            day += float(rng.uniform(0.2, 4))
            session += 1
    return make_log(rows, n_users, n_items)


@pytest.mark.parametrize("aware", [False, True], ids=["STAN", "STAN_EBR"])
def test_vectorised_scores_equal_the_plain_algorithm(aware: bool) -> None:
    rng = np.random.default_rng(5)
    for trial in range(60):
        log = random_log(rng)
        config = StanEbrConfig(
            k=int(rng.choice([1, 2, 3, 100])), sample_size=int(rng.choice([1, 3, 6, 500])),
            lambda_spw=float(rng.choice([0.5, 1.02, 4.0])), lambda_snh=float(rng.choice([0.5, 5.0])),
            lambda_inh=float(rng.choice([0.5, 2.05])), extend_length=int(rng.choice([0, 3, 6])),
            boost=float(rng.choice([0.0, 0.5])), reminder_sessions=int(rng.integers(1, 4)), weight_base=1.0,
            weight_recency=float(rng.choice([0.0, 1.0])), weight_similarity=float(rng.choice([0.0, 2.0])),
            popularity_fill=False)
        plain = StanConfig(**{f.name: getattr(config, f.name)
                              for f in dataclasses.fields(StanConfig) if f.name != "model"})
        scorer = fit_stan(config if aware else plain, log)
        user = int(rng.integers(0, log.n_users))
        session = rng.integers(0, log.n_items, size=int(rng.integers(1, 5))).tolist()
        now = float(log.time.max()) + DAY
        scores = session_scores(scorer, user, session, now)
        expected = reference_stan(log, user, session, config, now, aware)
        reminded = aware and (config.weight_recency > 0 or config.weight_similarity > 0)
        assert (scores if reminded else scores / scores.max()) == pytest.approx(expected, rel=1e-4, abs=1e-9), trial


@pytest.mark.parametrize(("overrides", "message"), [
    ({"k": 0}, r"Neighbours must be at least 1 \(got 0\)"),
    ({"sample_size": 0}, r"Sample size must be at least 1 \(got 0\)"),
    ({"lambda_spw": -1.0}, r"Position decay \(items\) must be greater than 0 \(got -1.0\)"),
    ({"lambda_snh": 0.0}, r"Recency decay \(days\) must be greater than 0 \(got 0.0\)"),
    ({"lambda_inh": -0.5}, r"Item distance decay \(items\) must be greater than 0 \(got -0.5\)"),
])
def test_bad_settings_are_refused_with_their_label_and_range(overrides: dict, message: str) -> None:
    for model in ("stan", "stan-ebr"):
        with pytest.raises(ConfigError, match=message):
            build_config(model, None, overrides, seed=0)
    with pytest.raises(ConfigError, match=message):
        fit_stan(dataclasses.replace(StanConfig(), **overrides), None)  # type: ignore[arg-type]  (before any work)
    with pytest.raises(ConfigError, match=r"Extend to \(items\) must be in \[0, 100\] \(got 101\)"):
        build_config("stan-ebr", None, {"extend_length": 101}, seed=0)
