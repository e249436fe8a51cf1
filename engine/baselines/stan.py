"""STAN: sequence- and time-aware neighbourhood (Garg, Gupta, Malhotra, Vig & Shroff, "Sequence
and Time Aware Neighborhood for Session-based Recommendations", SIGIR 2019), and STAN_EBR, STAN with
the session-aware extensions of Latifi, Mauro & Jannach (2021).

Three exponential decays on top of session kNN:

- the current session's items weigh ``exp((p - L) / lambda_spw)`` by their position p of L (the
  latest item 1), and a candidate's similarity is the weighted cosine
  ``sum_{i in shared} w_i / (sqrt(sum_{i in current} w_i^2) sqrt(|candidate|))``;
- the similarity decays with the candidate's age: ``exp(-(t_now - t_candidate) / lambda_snh)``,
  ``t_candidate`` the time of its last event;
- a neighbour gives its item j ``similarity x exp(-|pos(j) - pos(i*)| / lambda_inh)``, where i* is
  the neighbour's latest item that the current session also holds.

"Now" cancels out: ``exp(-(t_now - t) / l) = exp(-t_now / l) exp(t / l)``, one factor for every
candidate of a prediction, so neither the chosen neighbours nor the order of the items depends on
it. The scorer therefore measures ages from the most recent candidate of each prediction, which
gives the paper's ranking without the current session's time and without underflow.

Defaults follow rn5l/session-rec's ``algorithms/knn/stan.py`` (k = 100, sample 5,000,
lambda_spw 1.02, lambda_snh 5 days, lambda_inh 2.05)."""
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
from engine.baselines.session_knn import PairItems, Query, SessionIndex, SessionKnnScorer, group_max
from engine.baselines.sknn import neighbours_setting, sample_setting
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.search_space import FloatRange, IntRange, SearchSpace
from engine.registry.settings import ModelSettings, setting

logger = logging.getLogger(__name__)

_STAN_SOURCE = "session-rec's STAN"
_EBR_SOURCE = "session-rec's tuned STAN_ER (conf/example_session_aware_exp.yml)"
SECONDS_PER_DAY = 86_400.0


def _decay_setting(default: float, label: str, meaning: str, unit: str) -> Any:
    return setting(default, label,
                   f"{meaning}; larger decays more slowly. Default: {default:g} {unit} ({_STAN_SOURCE}).",
                   low=0.0, low_open=True)


@dataclass(frozen=True)
class StanConfig(ModelSettings):
    """STAN's settings: the neighbourhood and its three decays."""

    model: str = setting("stan", "Model", "STAN", hidden=True)
    k: int = neighbours_setting()
    sample_size: int = sample_setting(5000, _STAN_SOURCE)
    popularity_fill: bool = fill_setting("the items of the neighbour sessions")
    lambda_spw: float = _decay_setting(1.02, "Position decay (items)",
                                       "lambda_spw: the current session's item at position p of L weighs exp((p - L) / "
                                       "lambda_spw)", "items")
    lambda_snh: float = _decay_setting(5.0, "Recency decay (days)",
                                       "lambda_snh: a candidate session's similarity decays as exp(-age / lambda_snh), "
                                       "its age measured from its last event", "days")
    lambda_inh: float = _decay_setting(2.05, "Item distance decay (items)",
                                       "lambda_inh: a neighbour's item at distance d from the latest item it shares "
                                       "with the current session gets exp(-d / lambda_inh) of its similarity",
                                       "items")


@dataclass(frozen=True)
class StanEbrConfig(StanConfig):
    """STAN_EBR: STAN's settings and those of the extensions."""

    model: str = setting("stan-ebr", "Model", "STAN_EBR", hidden=True)
    extend_length: int = extend_setting(2, _EBR_SOURCE)
    boost: float = boost_setting(0.1, "0.1, session-rec's tuned V-SKNN_EBR and VSTAN_EBR (its STAN_ER has no boost)")
    reminder_sessions: int = reminder_sessions_setting(9, _EBR_SOURCE)
    weight_base: float = reminder_weight_setting(10.0, "base", _EBR_SOURCE)
    weight_recency: float = reminder_weight_setting(3.0, "recency", _EBR_SOURCE)
    weight_similarity: float = reminder_weight_setting(2.0, "similarity", _EBR_SOURCE)

    def check(self) -> None:
        if self.weight_base + self.weight_recency + self.weight_similarity <= 0:
            raise ConfigError("Reminders: the model, recency and session similarity weights are all 0; at least one "
                              "must be positive", setting="weight_base", label="Reminders: model weight")


class StanScorer(SessionKnnScorer):
    """STAN (and, with a history and extensions, STAN_EBR)."""

    def __init__(self, index: SessionIndex, config: StanConfig, device: torch.device | str = "cpu",
                 history: UserHistory | None = None) -> None:
        extensions: dict[str, Any] = {}
        if isinstance(config, StanEbrConfig):
            extensions = {"extend_length": config.extend_length, "boost": config.boost,
                          "reminders": Reminders(config.weight_base, config.weight_recency, config.weight_similarity,
                                                 config.reminder_sessions)}
        super().__init__(index, config.k, device, history, **extensions)
        self._lambda_spw = config.lambda_spw
        self._lambda_snh_s = config.lambda_snh * SECONDS_PER_DAY
        self._lambda_inh = config.lambda_inh

    @classmethod
    def fit(cls, config: StanConfig, train: SessionLog, device: torch.device | str = "cpu",
            progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StanScorer:
        config.validate()
        index = SessionIndex.build(train, config.sample_size, progress, cancel)
        history = UserHistory.of(train) if isinstance(config, StanEbrConfig) else None
        logger.info("%s: %d sessions indexed", config.model, index.n_sessions)
        return cls(index, config, device, history)

    def _position_weights(self, last_position: np.ndarray, length: np.ndarray) -> np.ndarray:
        return np.exp((last_position - length) / self._lambda_spw)

    def _similarities(self, query: Query, rows: np.ndarray, sessions: np.ndarray, overlap: np.ndarray) -> np.ndarray:
        """Weighted cosine x recency decay, ages measured from each row's most recent session."""
        cosine = overlap / np.sqrt(query.sum_of_squared_weights()[rows] * self._index.n_distinct[sessions])
        exponent = self._index.time[sessions] / self._lambda_snh_s  # [C]
        return cosine * np.exp(exponent - group_max(rows, exponent))

    def _item_scores(self, query: Query, rows: np.ndarray, similarity: np.ndarray, items: PairItems) -> np.ndarray:
        shared_position = np.where(items.query_position > 0, items.session_position, 0.0)
        latest_shared = items.per_pair_max(shared_position)  # [P] position of i* in the neighbour
        distance = np.abs(items.session_position - latest_shared[items.pair])
        return similarity[items.pair] * np.exp(-distance / self._lambda_inh)


def fit_stan(config: StanConfig, train: SessionLog, device: torch.device | str = "cpu",
             progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    return with_popularity_fill(StanScorer.fit(config, train, device, progress, cancel), train, config.popularity_fill)


_STAN_SPACE: SearchSpace = {"k": IntRange(20, 2000, log=True), "sample_size": IntRange(100, 10_000, log=True),
               "lambda_spw": FloatRange(0.25, 10.0, log=True), "lambda_snh": FloatRange(0.5, 200.0, log=True),
               "lambda_inh": FloatRange(0.25, 10.0, log=True), **FILL_SPACE}

MODEL = ModelEntry(
    name="stan", label="STAN", kind="baseline", history="none", personalized=False,
    description="Session kNN with decays by position in the session, neighbour recency and item distance",
    config_type=StanConfig, presets={"default": StanConfig()}, fit=fit_stan, search_space=_STAN_SPACE)
EBR_MODEL = ModelEntry(
    name="stan-ebr", label="STAN_EBR", kind="baseline", history="none", personalized=True,
    description="STAN with the user's past sessions: extended query, boosted own sessions, reminders",
    config_type=StanEbrConfig, presets={"default": StanEbrConfig()}, fit=fit_stan,
    search_space={**_STAN_SPACE, **EXTENSION_SPACE}, session_twin="stan")
