"""SR: sequential rules (Kamehkhosh, Jannach & Ludewig, "A Comparison of Frequent Pattern Techniques
and a Deep Learning Method for Session-Based Recommendation", RecSys TempRec workshop 2017; Ludewig &
Jannach, UMUAI 2018), and SR_BR, SR with the Boost and Reminders extensions of Latifi, Mauro &
Jannach (2021; Extend is for kNN models only).

A rule a -> b collects, over the training sessions, 1/x for every occurrence of b x positions after
a, for x up to ``steps`` (session-rec's ``div`` weighting); each item keeps its ``pruning`` best
rules. The scores of the next item are the rules of the session's latest item. Defaults follow
rn5l/session-rec's ``algorithms/baselines/sr.py`` (steps 10, div, pruning 20).

The rule matrix is built with one vectorised pass per distance x (pairs of events x apart in one
session), summed as sparse matrices; the rule scorer is shared with Markov."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from engine.baselines.current_sessions import CurrentSessions, DenseScoreRows
from engine.baselines.popularity_fill import FILL_SPACE, fill_setting, with_popularity_fill
from engine.baselines.session_aware import Reminders, UserHistory, boost_setting, reminder_weight_setting
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice, IntRange, SearchSpace
from engine.registry.settings import ModelSettings, setting

logger = logging.getLogger(__name__)

_SOURCE = "session-rec's SR"
_BR_SOURCE = "session-rec's tuned SR_BR (conf/example_session_aware_exp.yml)"
#: Most positions a rule may span.
MAX_STEPS = 100

#: Weight of an occurrence of b x positions after a.
DISTANCE_WEIGHTS: dict[str, Callable[[int], float]] = {
    "div": lambda x: 1.0 / x,
    "same": lambda x: 1.0,
    "log": lambda x: 1.0 / float(np.log10(x + 1.7)),
    "quadratic": lambda x: 1.0 / x ** 2,
    "linear": lambda x: max(1.0 - 0.1 * x, 0.0),  # session-rec's goes negative after 10 positions
}


def pruning_setting(default: int, source: str) -> Any:
    return setting(default, "Rules kept per item",
                   f"Each item keeps its this many strongest rules (equal ones: lower item code first); 0 keeps all. "
                   f"Default: {default} ({source}).", low=0)


@dataclass(frozen=True)
class SrConfig(ModelSettings):
    """SR's settings."""

    model: str = setting("sr", "Model", "SR", hidden=True)
    steps: int = setting(10, "Window (steps)",
                         "Rules a -> b count b up to this many positions after a in a session. "
                         f"Default: 10 ({_SOURCE}).",
                         low=1, high=MAX_STEPS)
    weighting: str = setting("div", "Distance weighting",
                             "Weight of b x positions after a: div 1/x, same 1, log 1/log10(x+1.7), quadratic 1/x^2, "
                             f"linear max(1-0.1x, 0). Default: div ({_SOURCE}).", choices=tuple(DISTANCE_WEIGHTS))
    pruning: int = pruning_setting(20, _SOURCE)
    popularity_fill: bool = fill_setting("the rules of the session's last item")


@dataclass(frozen=True)
class SrBrConfig(SrConfig):
    """SR_BR: SR's settings, the boost of the user's own rules and the reminders."""

    model: str = setting("sr-br", "Model", "SR_BR", hidden=True)
    boost: float = boost_setting(3.1, _BR_SOURCE, "rules that occur in")
    weight_base: float = reminder_weight_setting(5.0, "base", _BR_SOURCE)
    weight_recency: float = reminder_weight_setting(3.0, "recency", _BR_SOURCE)

    def check(self) -> None:
        if self.weight_base + self.weight_recency <= 0:
            raise ConfigError("Reminders: the model and recency weights are both 0; at least one must be positive",
                              setting="weight_base", label="Reminders: model weight")


def rule_matrix(train: SessionLog, steps: int, weight: Callable[[int], float], pruning: int,
                progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> sp.csr_matrix:
    """CSR float32 [n_items, n_items]: rule a -> b = sum over pairs of events of one session, a
    then b x <= ``steps`` positions later, of ``weight(x)``; each row keeps its ``pruning`` largest
    entries (0: all). Memory: the pairs of one distance at a time plus the running sum."""
    n_items = train.n_items
    rules = sp.csr_matrix((n_items, n_items), dtype=np.float32)
    for distance in range(1, steps + 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        same_session = train.session[distance:] == train.session[:-distance]  # [E - x]
        n_pairs = int(same_session.sum())
        if n_pairs == 0:
            break
        pairs = sp.csr_matrix((np.full(n_pairs, weight(distance), dtype=np.float32),
                               (train.item[:-distance][same_session], train.item[distance:][same_session])),
                              shape=(n_items, n_items))
        rules = rules + pairs
        progress(distance / steps, f"rules: {distance} of {steps} distances, {rules.nnz:,} rules")
    rules.eliminate_zeros()
    rules.sort_indices()
    if pruning > 0:
        keep = strongest_per_row(rules.indptr, rules.data, pruning)
        kept_per_row = np.minimum(np.diff(rules.indptr), pruning)
        rules = sp.csr_matrix((rules.data[keep], rules.indices[keep], np.r_[0, np.cumsum(kept_per_row)]),
                              shape=(n_items, n_items))
    return rules


def strongest_per_row(indptr: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """bool [nnz]: the entries of a CSR matrix (``indptr`` [rows + 1], ``values`` [nnz], columns
    sorted within rows) among the ``n`` largest of their row, equal values by lower column. Only
    rows with more than ``n`` entries are sorted: by value (stable, so ties keep column order),
    then by row (stable)."""
    counts = np.diff(indptr)
    row = np.repeat(np.arange(len(counts)), counts)  # [nnz]
    keep = counts[row] <= n
    contested = np.flatnonzero(~keep)
    by_value = contested[np.argsort(-values[contested], kind="stable")]
    by_row = by_value[np.argsort(row[by_value], kind="stable")]
    crowded = counts[counts > n]
    row_start = np.repeat(np.cumsum(crowded) - crowded, crowded)  # [len(by_row)]
    keep[by_row[np.arange(len(by_row)) - row_start < n]] = True
    return keep


class RuleScorer:
    """StreamScorer: the scores of the next item are the rules of the session's latest item (0
    for every item before any). With a user history: rules that also occur in the user's own
    training sessions (b at most ``steps`` after a) count ``1 + boost`` times, and reminders re-rank
    the list with the recency of the user's past items."""

    history_feed = "none"

    def __init__(self, rules: sp.csr_matrix, device: torch.device | str = "cpu", history: UserHistory | None = None,
                 steps: int = 1, boost: float = 0.0, reminders: Reminders | None = None) -> None:
        """``rules``: CSR [n_items, n_items], columns sorted."""
        self.n_items = int(rules.shape[0])
        self._rules = rules
        self._history = history
        self._steps = steps
        self._boost = boost if history is not None else 0.0
        self._reminders = reminders if history is not None and reminders is not None and reminders.active else None
        self._sessions = CurrentSessions(history.end_time if history is not None else 0.0)
        self._output = DenseScoreRows(self.n_items, device)

    def reset(self, n_slots: int) -> None:
        self._sessions.reset(n_slots)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self._sessions.assign(slots, users)

    def observe_times(self, times: np.ndarray, active: np.ndarray) -> None:
        """The times (unix seconds [B]) of the events about to be consumed: "now" of the reminders."""
        self._sessions.observe_times(times, active)

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self._sessions.consume(items, session_start, active)

    def score_matrix(self, slots: np.ndarray) -> sp.csr_matrix:
        """CSR [b, n_items]: the scores of slots ``slots`` [b]."""
        last = self._sessions.last_item(slots)  # [b]
        scores = self._rules[np.maximum(last, 0)]  # a copy, [b, n_items]
        scores.data *= np.repeat(last >= 0, np.diff(scores.indptr))  # an empty session has no rules
        if self._boost > 0:
            assert self._history is not None
            rows, items = self._history.following_items(self._sessions.user[slots], last, self._steps)
            entry_keys = np.repeat(np.arange(len(slots)), np.diff(scores.indptr)) * self.n_items + scores.indices
            own = np.isin(entry_keys, rows * self.n_items + items)  # [nnz] rules of the user's own sessions
            scores.data = scores.data * np.where(own, 1.0 + self._boost, 1.0).astype(np.float32)
        if self._reminders is not None:
            assert self._history is not None
            recency = self._reminders.recency_scores(self._history, self._sessions.user[slots],
                                                     self._sessions.time[slots], self.n_items)
            scores = self._reminders.combine(scores, recency)
        return scores

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]; items without a score score 0 (a reused buffer: read it at once)."""
        return self._output.dense(self.score_matrix(slots))

    def scores_of(self, slots: np.ndarray, items: np.ndarray) -> torch.Tensor:
        """float32 [b, m]: the scores of ``items`` [m] only (repeats allowed)."""
        return self._output.columns(self.score_matrix(slots), items)


def fit(config: SrConfig, train: SessionLog, device: torch.device | str = "cpu",
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    config.validate()
    rules = rule_matrix(train, config.steps, DISTANCE_WEIGHTS[config.weighting], config.pruning, progress, cancel)
    logger.info("%s: %d rules over %d items", config.model, rules.nnz, train.n_items)
    if not isinstance(config, SrBrConfig):
        scorer = RuleScorer(rules, device)
    else:
        scorer = RuleScorer(rules, device, UserHistory.of(train), config.steps, config.boost,
                            Reminders(config.weight_base, config.weight_recency))
    return with_popularity_fill(scorer, train, config.popularity_fill)


_SR_SPACE: SearchSpace = {"steps": IntRange(1, 30), "weighting": Choice(tuple(DISTANCE_WEIGHTS)),
             "pruning": Choice((0, 10, 20, 50, 100)), **FILL_SPACE}

MODEL = ModelEntry(
    name="sr", label="SR", kind="baseline", history="none", personalized=False,
    description="Sequential rules: items that follow the session's last item within a window, weighted 1/distance",
    config_type=SrConfig, presets={"default": SrConfig()}, fit=fit, search_space=_SR_SPACE)
BR_MODEL = ModelEntry(
    name="sr-br", label="SR_BR", kind="baseline", history="none", personalized=True,
    description="SR with the user's past sessions: boosted own rules, reminders",
    config_type=SrBrConfig, presets={"default": SrBrConfig()}, fit=fit,
    search_space={**_SR_SPACE, "boost": Choice((0.0, 0.5, 1.0, 2.0, 4.0)), "weight_base": Choice((1.0, 2.0, 5.0, 10.0)),
                  "weight_recency": Choice((0.0, 1.0, 2.0, 5.0))},
    session_twin="sr")
