"""Seeded synthetic interaction logs that are session-aware and carry user signal by construction.

The generator exists so that the workbench can be demonstrated, tested and benchmarked without a
downloaded dataset, and so that a personalized model (one that sees a user's past sessions) has
something real to learn over a session-only model. Its mechanisms:

- **Catalogue**: items are partitioned into latent topics of varied size; a topic is picked in
  proportion to its size, and an item inside a topic with a Zipf weight ``1 / rank**s`` (long tail).
- **Lasting, drifting tastes**: each user holds a few taste slots, each pointing at a topic, with
  Dirichlet weights over the slots. Before every session each slot independently moves to a new
  topic with a small probability (slow drift across sessions).
- **Session intent**: every session picks one slot by the user's weights and stays on its topic;
  a small fraction of sessions explore a random topic instead.
- **Sequential structure**: every item has a few successors in its topic (a sparse Markov chain);
  inside a session the next item follows the current one's chain with a fixed probability, so
  item order matters.
- **Repeat consumption**: each taste slot carries a handful of personal favourite items of its
  topic, renewed when the slot drifts; any event re-visits one of them with a fixed probability,
  so a user's sessions keep returning to items of their own earlier sessions.
- **Session resumption** (off by default): a session may resume the user's previous one, re-visiting
  its items in order (re-finding, as job seekers return to the postings they looked at); only
  the user's history tells what comes next at the start of such a session.
- **Timing**: clicks inside a session are seconds to minutes apart (log-normal), a small fraction
  of gaps lies near the usual 30-minute idle threshold (so the threshold matters); sessions are
  hours to days apart. Timestamps are unix seconds.
- **Sizes**: sessions per user follow a shifted negative binomial (skewed: many short histories,
  some long ones); most sessions have >= 3 events, a small fraction have 1 or 2.

Generation is vectorised over chunks of users (one loop step per event position, across all
sessions of the chunk) and fully determined by the configuration, seed included.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from engine.data.column_mapping import ColumnMapping
from engine.errors import InputError
from engine.progress import CancelToken, ProgressCallback, no_progress

logger = logging.getLogger(__name__)

USERS_PER_CHUNK = 16_384  # part of the seeded output: changing it changes every generated log
NEAR_THRESHOLD_GAP_RANGE_S = (1200.0, 2400.0)
XING_SCALE_MIN_ITEM_SUPPORT = 3
"""Item support (events per item) with which :func:`xing_scale_config` meets the paper's XING
figures after the one-pass filters (support, sessions >= 3 events, users >= 5 sessions); the
paper's own value for XING (20) would keep only a small part of a log of that size."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of :func:`generate_log`. Probabilities are in [0, 1], durations in seconds."""

    n_users: int = 600
    n_items: int = 1_500
    n_topics: int = 20
    seed: int = 0
    mean_sessions_per_user: float = 9.0
    """Mean sessions per user before any filtering (1 + negative binomial)."""
    sessions_dispersion: float = 2.0
    """Negative binomial shape of sessions per user: smaller means more skewed."""
    max_sessions_per_user: int = 150
    mean_long_session_length: float = 6.0
    """Mean events of a session of >= 3 events (2 + geometric)."""
    short_session_probability: float = 0.1
    """Probability that a session has only 1 or 2 events."""
    max_session_length: int = 60
    taste_slots: int = 3
    """Topics a user likes at the same time."""
    taste_concentration: float = 0.7
    """Dirichlet concentration of a user's weights over their taste slots."""
    drift_probability: float = 0.05
    """Per session and taste slot: probability that the slot moves to a new topic."""
    explore_probability: float = 0.1
    """Per session: probability that its intent is a random topic instead of a taste slot."""
    repeat_probability: float = 0.15
    """Per event: probability of re-visiting one of the slot's personal favourite items."""
    favourites_per_slot: int = 5
    resume_probability: float = 0.0
    """Per session after a user's first: probability that it resumes the user's previous session
    (same intent and favourites; each of its first events re-visits, with
    ``revisit_probability``, the previous session's item at the same position). Off by default."""
    revisit_probability: float = 0.5
    revisit_events: int = 0
    """Re-visits of a resumed session happen in its first ``revisit_events`` events only (re-finding
    at the start, then the session moves on); 0: at every position the previous session has."""
    chain_probability: float = 0.6
    """Per event after the first of a session: probability of following the item's successors."""
    successors_per_item: int = 4
    item_zipf_exponent: float = 0.8
    """Zipf exponent of item popularity inside a topic."""
    median_click_gap_s: float = 45.0
    click_gap_sigma: float = 1.0
    """Log-normal sigma (natural log) of the gap between clicks of a session."""
    near_threshold_gap_probability: float = 0.02
    """Per in-session gap: probability that it is uniform in NEAR_THRESHOLD_GAP_RANGE_S."""
    min_session_gap_s: float = 3_600.0
    median_session_gap_s: float = 129_600.0
    """Median idle time between sessions of a user, on top of min_session_gap_s."""
    session_gap_sigma: float = 1.2
    start_time: int = 1_446_336_000
    """Unix seconds of the earliest possible first session (2015-11-01 UTC)."""
    user_start_spread_s: float = 60 * 86_400.0
    """Users' first sessions are uniform over this many seconds after start_time."""
    event_type_probabilities: tuple[float, ...] = (0.92, 0.04, 0.03, 0.0, 0.01)
    """Probabilities of event types 1, 2, ... (XING-like: 1 view, 2 bookmark, 3 reply, 4 delete,
    5 recruiter interest); no deletes by default, so dropping type 4 changes nothing."""

    def __post_init__(self) -> None:
        if self.n_users < 1 or self.n_topics < 1 or self.n_items < 2 * self.n_topics:
            raise InputError(
                f"synthetic log needs n_users >= 1 and n_items >= 2 * n_topics; got "
                f"{self.n_users} users, {self.n_items} items, {self.n_topics} topics")
        counts = ("taste_slots", "favourites_per_slot", "successors_per_item", "max_session_length",
                  "max_sessions_per_user")
        if min(getattr(self, name) for name in counts) < 1:
            raise InputError(f"synthetic log: {', '.join(counts)} must all be >= 1")
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_probability") and not 0.0 <= value <= 1.0:
                raise InputError(f"synthetic log: {field.name} must be in [0, 1], got {value}")
        if self.revisit_events < 0:
            raise InputError("synthetic log: revisit_events must be >= 0 (0: every position), "
                             f"got {self.revisit_events}")
        if self.repeat_probability + self.chain_probability > 1.0:
            raise InputError("synthetic log: repeat_probability + chain_probability must be <= 1")
        if self.mean_long_session_length <= 3.0 or self.mean_sessions_per_user < 1.0:
            raise InputError("synthetic log: mean_long_session_length must be > 3 and "
                             "mean_sessions_per_user >= 1")
        if abs(sum(self.event_type_probabilities) - 1.0) > 1e-9:
            raise InputError("synthetic log: event_type_probabilities must sum to 1")

    @property
    def expected_events(self) -> float:
        """Expected number of events of the generated log (caps on lengths neglected)."""
        q = self.short_session_probability
        mean_length = 1.5 * q + self.mean_long_session_length * (1.0 - q)
        return self.n_users * self.mean_sessions_per_user * mean_length


def demo_config(seed: int = 0) -> SyntheticConfig:
    """The first-launch demo log: about 30k events, 600 users, 1,500 items."""
    return SyntheticConfig(seed=seed)


def xing_scale_config(seed: int = 0) -> SyntheticConfig:
    """About 760k raw events; after the paper's one-pass filters with item support
    >= XING_SCALE_MIN_ITEM_SUPPORT about 550k events, 11.5k users and 58k items (XING scale).
    Its popularity is flatter than the demo's, since XING has only ~9.5 events per item."""
    return SyntheticConfig(
        n_users=20_700, n_items=76_000, n_topics=250, seed=seed, mean_sessions_per_user=6.3,
        sessions_dispersion=3.0, mean_long_session_length=6.3, item_zipf_exponent=0.7)


def scaled_config(n_events: int, seed: int = 0) -> SyntheticConfig:
    """A log of about ``n_events`` events (1 thousand to 33 million) with the demo's shape and
    about 10 events per item."""
    base = SyntheticConfig(n_users=1, n_items=2, n_topics=1, seed=seed)
    n_users = max(1, round(n_events / base.expected_events))
    n_items = max(10, round(n_events / 10))
    return replace(base, n_users=n_users, n_items=n_items, n_topics=max(2, n_items // 300))


#: The generator's named configurations (by seed).
GENERATOR_PRESETS: dict[str, Callable[[int], SyntheticConfig]] = {
    "demo": demo_config,
    "xing_scale": xing_scale_config,
}
#: The columns of a generated log.
SYNTHETIC_MAPPING = ColumnMapping("user_id", "item_id", "timestamp", event_type="event_type", time_unit="s")
#: Item support that keeps almost all of the demo log (it has ~20 events per item).
DEMO_MIN_ITEM_SUPPORT = 5
#: Item support that keeps most of a generated log of each preset.
PRESET_MIN_ITEM_SUPPORT = {"demo": DEMO_MIN_ITEM_SUPPORT, "xing_scale": XING_SCALE_MIN_ITEM_SUPPORT}


def _draw_popular_items(
    rng: np.random.Generator, topics: np.ndarray, topic_start: np.ndarray, item_cum_weight: np.ndarray,
) -> np.ndarray:
    """Internal item ids drawn by Zipf popularity inside each of ``topics`` (any shape)."""
    start, stop = topic_start[topics], topic_start[topics + 1]
    low, high = item_cum_weight[start], item_cum_weight[stop]
    items = np.searchsorted(item_cum_weight, low + rng.random(topics.shape) * (high - low), side="right") - 1
    return np.clip(items, start, stop - 1)


@dataclass(frozen=True)
class _Catalogue:
    """Items in topic order: internal ids of topic t are ``topic_start[t]:topic_start[t+1]``."""

    topic_start: np.ndarray  # int64 [T+1]
    topic_cum_share: np.ndarray  # float64 [T-1], inner bounds for picking a topic by its size
    item_cum_weight: np.ndarray  # float64 [I+1], cumulative Zipf weight, 0 first
    successors: np.ndarray  # int64 [I, C], internal ids in the item's topic
    successor_cum_share: np.ndarray  # float64 [C-1], inner bounds for picking a successor slot
    public_id: np.ndarray  # int64 [I], item_id written to the log

    def draw_topics(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        return np.searchsorted(self.topic_cum_share, rng.random(size), side="right")

    def draw_items(self, rng: np.random.Generator, topics: np.ndarray) -> np.ndarray:
        return _draw_popular_items(rng, topics, self.topic_start, self.item_cum_weight)


def _build_catalogue(config: SyntheticConfig, rng: np.random.Generator) -> _Catalogue:
    n_topics, n_items, n_successors = config.n_topics, config.n_items, config.successors_per_item
    sizes = 2 + rng.multinomial(n_items - 2 * n_topics, rng.dirichlet(np.full(n_topics, 2.0)))
    topic_start = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    topic_of_item = np.repeat(np.arange(n_topics), sizes)
    rank_in_topic = np.arange(n_items) - topic_start[topic_of_item]
    item_cum_weight = np.r_[0.0, np.cumsum((rank_in_topic + 1.0) ** -config.item_zipf_exponent)]

    successors = _draw_popular_items(
        rng, np.repeat(topic_of_item[:, None], n_successors, axis=1), topic_start, item_cum_weight)
    # An item is never its own successor: replace it by the next item of its topic.
    next_in_topic = topic_start[topic_of_item] + (rank_in_topic + 1) % sizes[topic_of_item]
    successors = np.where(successors == np.arange(n_items)[:, None], next_in_topic[:, None], successors)
    successor_weight = 0.5 ** np.arange(n_successors)
    return _Catalogue(
        topic_start=topic_start,
        topic_cum_share=np.cumsum(sizes[:-1]) / n_items,
        item_cum_weight=item_cum_weight,
        successors=successors,
        successor_cum_share=(np.cumsum(successor_weight) / successor_weight.sum())[:-1],
        public_id=rng.permutation(n_items).astype(np.int64),
    )


def _draw_sessions_per_user(config: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    mean_extra = config.mean_sessions_per_user - 1.0
    shape = config.sessions_dispersion
    extra = rng.negative_binomial(shape, shape / (shape + mean_extra), config.n_users)
    return np.minimum(1 + extra, config.max_sessions_per_user).astype(np.int64)


def _draw_session_lengths(config: SyntheticConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    long = 2 + rng.geometric(1.0 / (config.mean_long_session_length - 2.0), n)
    short = rng.integers(1, 3, n)
    lengths = np.where(rng.random(n) < config.short_session_probability, short, long)
    return np.minimum(lengths, config.max_session_length).astype(np.int64)


def _generate_chunk_items(
    config: SyntheticConfig, catalogue: _Catalogue, rng: np.random.Generator,
    sessions_per_user: np.ndarray, lengths: np.ndarray,
) -> np.ndarray:
    """Internal item ids of one chunk of users, events in (user, session, position) order."""
    n_users, n_sessions, n_slots = len(sessions_per_user), len(lengths), config.taste_slots
    session_user = np.repeat(np.arange(n_users), sessions_per_user)
    first_session = np.r_[0, np.cumsum(sessions_per_user)[:-1]]

    # Taste slots and their drift: slot j of session s points at the topic drawn for the session
    # where the slot was last renewed (its "epoch"); every user's first session renews all slots.
    renewed = rng.random((n_sessions, n_slots)) < config.drift_probability
    renewed[first_session] = True
    epoch = np.where(renewed, np.arange(n_sessions)[:, None], 0)
    np.maximum.accumulate(epoch, axis=0, out=epoch)
    fresh_topic = catalogue.draw_topics(rng, (n_sessions, n_slots))

    slot_cum_weight = np.cumsum(rng.dirichlet(np.full(n_slots, config.taste_concentration), n_users), axis=1)
    slot = (rng.random(n_sessions)[:, None] > slot_cum_weight[session_user, :-1]).sum(axis=1)
    session_epoch = epoch[np.arange(n_sessions), slot]
    topic = fresh_topic[session_epoch, slot]
    explores = rng.random(n_sessions) < config.explore_probability
    topic[explores] = catalogue.draw_topics(rng, int(explores.sum()))

    resumes = _draw_resumptions(config, rng, n_sessions, first_session)
    resumed_from = np.maximum.accumulate(np.where(resumes, 0, np.arange(n_sessions)))  # root session
    session_epoch, slot, topic, explores = (a[resumed_from] for a in (session_epoch, slot, topic, explores))

    # Favourites per (epoch, slot) actually used, drawn once and shared by the sessions of that epoch.
    favourite_key, favourite_row = np.unique(session_epoch * n_slots + slot, return_inverse=True)
    favourite_topic = fresh_topic.ravel()[favourite_key]
    favourites = catalogue.draw_items(
        rng, np.repeat(favourite_topic, config.favourites_per_slot).reshape(-1, config.favourites_per_slot))

    event_offset = np.r_[0, np.cumsum(lengths)[:-1]]
    by_length = np.argsort(-lengths, kind="stable")
    active_count = np.searchsorted(-lengths[by_length], -np.arange(lengths.max()), side="left")
    items = np.empty(int(lengths.sum()), dtype=np.int64)
    current = np.zeros(n_sessions, dtype=np.int64)
    for position in range(len(active_count)):
        active = by_length[:active_count[position]]
        choice = rng.random(len(active))
        step_items = np.empty(len(active), dtype=np.int64)
        repeats = (choice < config.repeat_probability) & ~explores[active]
        follows = (choice >= config.repeat_probability) & (
            choice < config.repeat_probability + config.chain_probability) & (position > 0)
        fresh = ~(repeats | follows)
        pick = rng.integers(0, config.favourites_per_slot, int(repeats.sum()))
        step_items[repeats] = favourites[favourite_row[active[repeats]], pick]
        successor_slot = np.searchsorted(
            catalogue.successor_cum_share, rng.random(int(follows.sum())), side="right")
        step_items[follows] = catalogue.successors[current[active[follows]], successor_slot]
        step_items[fresh] = catalogue.draw_items(rng, topic[active[fresh]])
        current[active] = step_items
        items[event_offset[active] + position] = step_items
    if resumes.any():
        _revisit_previous_sessions(config, rng, items, event_offset, lengths, np.arange(n_sessions) - resumed_from)
    return items


def _draw_resumptions(config: SyntheticConfig, rng: np.random.Generator, n_sessions: int,
                      first_session: np.ndarray) -> np.ndarray:
    """bool [S]: sessions that resume the previous session of their user (never a user's first).
    Draws nothing when resumption is off, so the default logs stay as they were."""
    if config.resume_probability == 0.0:
        return np.zeros(n_sessions, dtype=bool)
    resumes = rng.random(n_sessions) < config.resume_probability
    resumes[first_session] = False
    return resumes


def _revisit_previous_sessions(config: SyntheticConfig, rng: np.random.Generator, items: np.ndarray,
                               event_offset: np.ndarray, lengths: np.ndarray, depth: np.ndarray) -> None:
    """In resumed sessions (``depth`` >= 1: resumptions in a row), each position that the previous
    session also has (among the first ``revisit_events``, when set) takes the previous session's
    item there with ``revisit_probability``. Processed by depth, so that a session copies from an
    already final previous session."""
    for level in range(1, int(depth.max()) + 1):
        sessions = np.flatnonzero(depth == level)
        shared = np.minimum(lengths[sessions], lengths[sessions - 1])
        if config.revisit_events:
            shared = np.minimum(shared, config.revisit_events)
        position = np.arange(int(shared.sum())) - np.repeat(np.cumsum(shared) - shared, shared)
        target = np.repeat(event_offset[sessions], shared) + position
        source = np.repeat(event_offset[sessions - 1], shared) + position
        revisit = rng.random(len(target)) < config.revisit_probability
        items[target[revisit]] = items[source[revisit]]


def _generate_chunk_times(
    config: SyntheticConfig, rng: np.random.Generator, sessions_per_user: np.ndarray,
    lengths: np.ndarray,
) -> np.ndarray:
    """Unix seconds of one chunk's events, strictly increasing per user."""
    n_events, n_sessions = int(lengths.sum()), len(lengths)
    session_first_event = np.r_[0, np.cumsum(lengths)[:-1]]
    click_gap = rng.lognormal(np.log(config.median_click_gap_s), config.click_gap_sigma, n_events)
    near_threshold = rng.random(n_events) < config.near_threshold_gap_probability
    click_gap[near_threshold] = rng.uniform(*NEAR_THRESHOLD_GAP_RANGE_S, int(near_threshold.sum()))
    click_gap = np.maximum(np.ceil(click_gap), 1).astype(np.int64)
    click_gap[session_first_event] = 0
    since_session_start = np.cumsum(click_gap)
    since_session_start -= np.repeat(since_session_start[session_first_event], lengths)
    duration = since_session_start[session_first_event + lengths - 1]

    idle = config.min_session_gap_s + rng.lognormal(
        np.log(config.median_session_gap_s), config.session_gap_sigma, n_sessions)
    step = np.ceil(idle).astype(np.int64)
    step[1:] += duration[:-1]
    first_session = np.r_[0, np.cumsum(sessions_per_user)[:-1]]
    user_start = config.start_time + (
        rng.random(len(sessions_per_user)) * config.user_start_spread_s).astype(np.int64)
    step[first_session] = user_start
    session_start = np.cumsum(step)
    session_start -= np.repeat(session_start[first_session] - user_start, sessions_per_user)
    return np.repeat(session_start, lengths) + since_session_start


def generate_log(
    config: SyntheticConfig, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
) -> pd.DataFrame:
    """A synthetic interaction log: columns user_id, item_id, timestamp (int64, unix seconds) and
    event_type (int8), sorted by (user_id, timestamp). The same config gives the identical frame."""
    streams = np.random.SeedSequence(config.seed).spawn(3)
    catalogue = _build_catalogue(config, np.random.Generator(np.random.PCG64(streams[0])))
    sizes_rng = np.random.Generator(np.random.PCG64(streams[1]))
    sessions_per_user = _draw_sessions_per_user(config, sizes_rng)
    lengths = _draw_session_lengths(config, sizes_rng, int(sessions_per_user.sum()))
    n_events = int(lengths.sum())
    logger.info("generating %d events for %d users", n_events, config.n_users)

    session_bounds = np.r_[0, np.cumsum(sessions_per_user)]
    event_bounds = np.r_[0, np.cumsum(lengths)]
    user_id = np.repeat(np.arange(config.n_users, dtype=np.int64), np.diff(event_bounds[session_bounds]))
    item_id = np.empty(n_events, dtype=np.int64)
    timestamp = np.empty(n_events, dtype=np.int64)
    event_type = np.empty(n_events, dtype=np.int8)
    type_cum_share = np.cumsum(config.event_type_probabilities)[:-1]
    chunk_streams = streams[2].spawn((config.n_users + USERS_PER_CHUNK - 1) // USERS_PER_CHUNK)
    for chunk, chunk_stream in enumerate(chunk_streams):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rng = np.random.Generator(np.random.PCG64(chunk_stream))
        first_user = chunk * USERS_PER_CHUNK
        last_user = min(first_user + USERS_PER_CHUNK, config.n_users)
        chunk_sessions = sessions_per_user[first_user:last_user]
        session_lo, session_hi = session_bounds[first_user], session_bounds[last_user]
        chunk_lengths = lengths[session_lo:session_hi]
        events = slice(event_bounds[session_lo], event_bounds[session_hi])
        internal = _generate_chunk_items(config, catalogue, rng, chunk_sessions, chunk_lengths)
        item_id[events] = catalogue.public_id[internal]
        timestamp[events] = _generate_chunk_times(config, rng, chunk_sessions, chunk_lengths)
        event_type[events] = 1 + np.searchsorted(type_cum_share, rng.random(len(internal)), side="right")
        progress(last_user / config.n_users, f"generated {last_user:,} of {config.n_users:,} users")
    return pd.DataFrame(
        {"user_id": user_id, "item_id": item_id, "timestamp": timestamp, "event_type": event_type},
        copy=False)
