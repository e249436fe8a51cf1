"""Markov: a first-order Markov chain, the next item scored by how often it followed the session's
latest item in training sessions (rn5l/session-rec's ``algorithms/baselines/markov.py``: transition
counts, each item keeping its 20 most frequent successors)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from engine.baselines.popularity_fill import FILL_SPACE, fill_setting, with_popularity_fill
from engine.baselines.sequential_rules import RuleScorer, pruning_setting, rule_matrix
from engine.data.session_log import SessionLog
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice
from engine.registry.settings import ModelSettings, setting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MarkovConfig(ModelSettings):
    """Markov's one setting: how many successors each item keeps."""

    model: str = setting("markov", "Model", "Markov", hidden=True)
    pruning: int = pruning_setting(20, "session-rec's Markov")
    popularity_fill: bool = fill_setting("the successors of the session's last item")


def fit(config: MarkovConfig, train: SessionLog, device: torch.device | str = "cpu",
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    config.validate()
    transitions = rule_matrix(train, 1, lambda distance: 1.0, config.pruning, progress, cancel)
    logger.info("Markov: %d transitions over %d items", transitions.nnz, train.n_items)
    return with_popularity_fill(RuleScorer(transitions, device), train, config.popularity_fill)


MODEL = ModelEntry(name="markov", label="Markov", kind="baseline", history="none", personalized=False,
                   description="First-order transitions: how often each item followed the session's last item",
                   config_type=MarkovConfig, presets={"default": MarkovConfig()}, fit=fit,
                   search_space={"pruning": Choice((0, 10, 20, 50, 100)), **FILL_SPACE})
