"""The non-neural baselines, each a StreamScorer fitted on a training SessionLog, with its settings
and its model entry in its own module. A new baseline is one module plus its line here."""
from __future__ import annotations

from engine.baselines import item_knn, personal_pop, pop
from engine.registry.models import ModelEntry

#: The baselines in the order tables show them (the paper's first).
BASELINES: tuple[ModelEntry, ...] = (pop.MODEL, personal_pop.MODEL, item_knn.MODEL)
