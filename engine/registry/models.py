"""What the workbench knows about a model: the entry each model registers (the networks in
:mod:`engine.training.networks`, each baseline in its own module) and that the model registry
(:mod:`engine.runs.models`) collects."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.registry.search_space import SearchSpace

#: ``fit(config, train_log, device, progress, cancel) -> StreamScorer`` of a baseline.
FitFunction = Callable[..., Any]


@dataclass(frozen=True)
class ModelEntry:
    """One model. ``kind``: a network trained in epochs and checkpointed, or a baseline fitted
    in one pass (and refitted, deterministically, when its recommendations are needed again).
    ``history``: the evaluation history feed (see :mod:`engine.evaluation.stream_scorer`);
    ``personalized``: it uses the user's own past sessions. ``config_type``: a
    :class:`~engine.registry.settings.ModelSettings` subclass; ``presets``: named configurations
    (the first is the default); ``search_space``: what tuning explores, with ``derive`` filling
    the settings that follow from a drawn point. ``session_twin``: the session-only model whose
    comparison says whether personalization pays off (HRNN Init -> RNN). ``hierarchical``: a
    user-level network carries the user's state from session to session (the HRNN variants,
    which Inspection puts beside their twin by default)."""

    name: str
    label: str
    kind: Literal["neural", "baseline"]
    description: str
    history: str
    personalized: bool
    config_type: type
    presets: Mapping[str, Any]
    search_space: SearchSpace = field(default_factory=dict)
    fit: FitFunction | None = None
    derive: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    session_twin: str | None = None
    hierarchical: bool = False

    @property
    def neural(self) -> bool:
        return self.kind == "neural"

    @property
    def default_preset(self) -> str:
        return next(iter(self.presets))
