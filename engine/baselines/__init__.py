"""The non-neural baselines, each a StreamScorer fitted on a training SessionLog, with its settings
and its model entry in its own module. A new baseline is one module plus its line here."""
from __future__ import annotations

from engine.baselines import item_knn, markov, personal_pop, pop, sequential_rules, sknn, stan
from engine.registry.models import ModelEntry

#: The baselines in the order tables show them (the paper's first, then the session-based
#: neighbourhood and rule models, then their session-aware variants).
BASELINES: tuple[ModelEntry, ...] = (
    pop.MODEL, personal_pop.MODEL, item_knn.MODEL,
    sknn.SKNN_MODEL, sknn.VSKNN_MODEL, stan.MODEL, sequential_rules.MODEL, markov.MODEL,
    sknn.VSKNN_EBR_MODEL, stan.EBR_MODEL, sequential_rules.BR_MODEL,
)
