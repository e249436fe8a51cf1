"""SKNN and V-SKNN: session-based nearest neighbours (Jannach & Ludewig, RecSys 2017; Ludewig &
Jannach, UMUAI 2018), and V-SKNN_EBR, V-SKNN with the session-aware extensions of Latifi, Mauro &
Jannach (2021).

- **SKNN**: the current session as a set of items; similarity to a candidate session is the
  cosine of the two binary item vectors; an item's score is the summed similarity of the ``k``
  neighbours that contain it.
- **V-SKNN**: the current session as a vector weighted by position, the last item weighing most
  (the paper's linear decay is session-rec's ``div`` weighting, p / L); the similarity is the dot
  product with the candidate's binary vector divided by the current session's distinct items
  (session-rec's ``vec``). A neighbour's contribution is its similarity times a decay by how far back
  in the current session the latest item it shares lies (``div``: 1 / step), times
  1 + w x idf(item), with idf(i) = ln(training sessions / training sessions containing i)
  (session-rec counts the item's events instead: the same once repeats in a session are dropped).

Defaults follow rn5l/session-rec (``algorithms/knn/sknn.py``, ``vsknn.py``, ``uvsknn.py``): k = 100
neighbours from a sample of the 500 most recent candidate sessions (their documented defaults)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.baselines.popularity_fill import FILL_SPACE, fill_setting, with_popularity_fill
from engine.baselines.session_aware import (
    EXTENSION_SPACE,
    Reminders,
    UserHistory,
    boost_setting,
    extend_setting,
    reminder_sessions_setting,
    reminder_weight_setting,
)
from engine.baselines.session_knn import PairItems, Query, SessionIndex, SessionKnnScorer
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice, IntRange, SearchSpace
from engine.registry.settings import ModelSettings, setting

logger = logging.getLogger(__name__)

_SOURCE = "session-rec's documented default"
_EBR_SOURCE = "session-rec's tuned V-SKNN_EBR (conf/example_session_aware_exp.yml)"

#: Position weights of the current session's items: (1-based position p of the item's last
#: occurrence, session length L) -> weight. session-rec's ``linear`` (1 - 0.1 (L - p), but 0 from
#: the 11th position on) is left out: it weighs the latest items of long sessions 0.
POSITION_WEIGHTS = {
    "div": lambda p, length: p / length,
    "same": lambda p, length: np.ones_like(p),
    "log": lambda p, length: 1.0 / np.log10(length - p + 1.7),
    "quadratic": lambda p, length: (p / length) ** 2,
}
#: Decay of a neighbour's contribution by the step (1 = the current item) of the latest current item it holds.
STEP_DECAYS = {
    "div": lambda step: 1.0 / step,
    "same": lambda step: np.ones_like(step),
    "log": lambda step: 1.0 / np.log10(step + 1.7),
    "quadratic": lambda step: 1.0 / step ** 2,
    "linear": lambda step: np.maximum(1.0 - 0.1 * step, 0.0),  # session-rec's goes negative after step 10
}


def neighbours_setting(default: int = 100) -> Any:
    return setting(default, "Neighbours", f"k: the most similar sessions whose items are scored. Default: {default} "
                   f"({_SOURCE}).", low=1)


def sample_setting(default: int, source: str = _SOURCE) -> Any:
    return setting(default, "Sample size",
                   "Candidate neighbours: the most recent training sessions that share an item with the current "
                   f"session (session-rec's 'recent' sampling). Default: {default} ({source}).", low=1)


@dataclass(frozen=True)
class SknnConfig(ModelSettings):
    """SKNN's settings."""

    model: str = setting("sknn", "Model", "SKNN", hidden=True)
    k: int = neighbours_setting()
    sample_size: int = sample_setting(500)
    popularity_fill: bool = fill_setting("the items of the neighbour sessions")


@dataclass(frozen=True)
class VsknnConfig(ModelSettings):
    """V-SKNN's settings."""

    model: str = setting("v-sknn", "Model", "V-SKNN", hidden=True)
    k: int = neighbours_setting()
    sample_size: int = sample_setting(500)
    weighting: str = setting("div", "Position weighting",
                             "Weight of a current-session item at position p of L: div p/L (the paper's linear decay), "
                             "same 1, log 1/log10(L-p+1.7), quadratic (p/L)^2. Default: div (session-rec's).",
                             choices=tuple(POSITION_WEIGHTS))
    weighting_score: str = setting("div", "Neighbour decay",
                                   "Decay of a neighbour's contribution by the step s (1 = the current item) of the "
                                   "latest current item it holds: div 1/s, same 1, log 1/log10(s+1.7), "
                                   "quadratic 1/s^2, linear max(1-0.1s, 0). Default: div (session-rec's).",
                                   choices=tuple(STEP_DECAYS))
    idf_weighting: float = setting(10.0, "IDF weight",
                                   "w in 1 + w x idf(item), idf = ln(sessions / sessions with the item); "
                                   "0 turns it off. Default: 10 (session-rec's V-SKNN configuration, "
                                   "conf/example_session_aware_exp.yml).",
                                   low=0.0)
    popularity_fill: bool = fill_setting("the items of the neighbour sessions")


@dataclass(frozen=True)
class VsknnEbrConfig(VsknnConfig):
    """V-SKNN_EBR: V-SKNN's settings and those of the extensions."""

    model: str = setting("v-sknn-ebr", "Model", "V-SKNN_EBR", hidden=True)
    extend_length: int = extend_setting(8, _EBR_SOURCE)
    boost: float = boost_setting(0.1, _EBR_SOURCE)
    reminder_sessions: int = reminder_sessions_setting(4, _EBR_SOURCE)
    weight_base: float = reminder_weight_setting(8.0, "base", _EBR_SOURCE)
    weight_recency: float = reminder_weight_setting(1.0, "recency", _EBR_SOURCE)
    weight_similarity: float = reminder_weight_setting(1.0, "similarity", _EBR_SOURCE)

    def check(self) -> None:
        if self.weight_base + self.weight_recency + self.weight_similarity <= 0:
            raise ConfigError("Reminders: the model, recency and session similarity weights are all 0; at least one "
                              "must be positive", setting="weight_base", label="Reminders: model weight")


class SknnScorer(SessionKnnScorer):
    """SKNN: binary cosine similarity; an item scores the summed similarity of its neighbours."""

    @classmethod
    def fit(cls, config: SknnConfig, train: SessionLog, device: torch.device | str = "cpu",
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> SknnScorer:
        config.validate()
        index = SessionIndex.build(train, config.sample_size, progress, cancel)
        logger.info("SKNN: %d sessions indexed", index.n_sessions)
        return cls(index, config.k, device)

    def _similarities(self, query: Query, rows: np.ndarray, sessions: np.ndarray, overlap: np.ndarray) -> np.ndarray:
        """|q & s| / sqrt(|q| |s|) over distinct items."""
        return overlap / np.sqrt(query.n_distinct()[rows] * self._index.n_distinct[sessions])

    def _item_scores(self, query: Query, rows: np.ndarray, similarity: np.ndarray, items: PairItems) -> np.ndarray:
        return similarity[items.pair]


class VsknnScorer(SessionKnnScorer):
    """V-SKNN (and, with a history and extensions, V-SKNN_EBR)."""

    def __init__(self, index: SessionIndex, config: VsknnConfig, device: torch.device | str = "cpu",
                 history: UserHistory | None = None) -> None:
        extensions: dict[str, Any] = {}
        if isinstance(config, VsknnEbrConfig):
            extensions = {"extend_length": config.extend_length, "boost": config.boost,
                          "reminders": Reminders(config.weight_base, config.weight_recency, config.weight_similarity,
                                                 config.reminder_sessions)}
        super().__init__(index, config.k, device, history, **extensions)
        self._position_weighting = POSITION_WEIGHTS[config.weighting]
        self._step_decay = STEP_DECAYS[config.weighting_score]
        sessions_with = index.sessions_with_item()
        idf = np.log(max(index.n_sessions, 1) / np.maximum(sessions_with, 1)) * (sessions_with > 0)
        self._item_factor = 1.0 + config.idf_weighting * idf  # [n_items]

    @classmethod
    def fit(cls, config: VsknnConfig, train: SessionLog, device: torch.device | str = "cpu",
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> VsknnScorer:
        config.validate()
        index = SessionIndex.build(train, config.sample_size, progress, cancel)
        history = UserHistory.of(train) if isinstance(config, VsknnEbrConfig) else None
        logger.info("%s: %d sessions indexed", config.model, index.n_sessions)
        return cls(index, config, device, history)

    def _position_weights(self, last_position: np.ndarray, length: np.ndarray) -> np.ndarray:
        return self._position_weighting(last_position, length)

    def _similarities(self, query: Query, rows: np.ndarray, sessions: np.ndarray, overlap: np.ndarray) -> np.ndarray:
        """Weighted overlap / distinct items of the query."""
        return overlap / query.n_distinct()[rows]

    def _item_scores(self, query: Query, rows: np.ndarray, similarity: np.ndarray, items: PairItems) -> np.ndarray:
        latest_shared = items.per_pair_max(items.query_position)  # [P] position in the query of the latest shared item
        step = query.length[rows] - latest_shared + 1
        return (similarity * self._step_decay(step))[items.pair] * self._item_factor[items.item]


def fit_sknn(config: SknnConfig, train: SessionLog, device: torch.device | str = "cpu",
             progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    return with_popularity_fill(SknnScorer.fit(config, train, device, progress, cancel), train, config.popularity_fill)


def fit_vsknn(config: VsknnConfig, train: SessionLog, device: torch.device | str = "cpu",
              progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    return with_popularity_fill(VsknnScorer.fit(config, train, device, progress, cancel), train,
                                config.popularity_fill)


_KNN_SPACE: SearchSpace = {"k": IntRange(20, 2000, log=True), "sample_size": IntRange(100, 10_000, log=True),
                           **FILL_SPACE}
_VSKNN_SPACE: SearchSpace = {**_KNN_SPACE, "weighting": Choice(tuple(POSITION_WEIGHTS)),
                "weighting_score": Choice(tuple(STEP_DECAYS)), "idf_weighting": Choice((0.0, 1.0, 2.0, 5.0, 10.0))}

SKNN_MODEL = ModelEntry(
    name="sknn", label="SKNN", kind="baseline", history="none", personalized=False,
    description="Items of the most similar recent training sessions (cosine of item sets)",
    config_type=SknnConfig, presets={"default": SknnConfig()}, fit=fit_sknn, search_space=_KNN_SPACE)
VSKNN_MODEL = ModelEntry(
    name="v-sknn", label="V-SKNN", kind="baseline", history="none", personalized=False,
    description="Session kNN with the current session weighted by position and neighbour items by IDF",
    config_type=VsknnConfig, presets={"default": VsknnConfig()}, fit=fit_vsknn, search_space=_VSKNN_SPACE)
VSKNN_EBR_MODEL = ModelEntry(
    name="v-sknn-ebr", label="V-SKNN_EBR", kind="baseline", history="none", personalized=True,
    description="V-SKNN with the user's past sessions: extended query, boosted own sessions, reminders",
    config_type=VsknnEbrConfig, presets={"default": VsknnEbrConfig()}, fit=fit_vsknn,
    search_space={**_VSKNN_SPACE, **EXTENSION_SPACE}, session_twin="v-sknn")
