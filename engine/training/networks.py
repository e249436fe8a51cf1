"""The networks as the model registry knows them: the four recurrent models with their labels,
presets (the paper's Table 2, GRU4Rec 2016's, and the official GRU4Rec code's) and the search space
tuning explores, then SASRec and its twin (:mod:`engine.training.sasrec_models`)."""
from __future__ import annotations

from typing import Any

from engine.models.losses import LOSSES
from engine.models.spec import NETWORK_KINDS
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice, FloatRange, SearchSpace
from engine.training.config import TrainConfig
from engine.training.presets import NETWORK_PRESETS
from engine.training.sasrec_models import SASREC_NETWORKS

#: What tuning explores for every network (GRU4Rec's and HRNN's published ranges).
_SESSION_SPACE: SearchSpace = {
    "learning_rate": FloatRange(0.005, 0.5, log=True),
    "momentum": FloatRange(0.0, 0.6),
    "dropout_session": FloatRange(0.0, 0.6),
    "batch_size": Choice((32, 50, 64, 100, 128, 256)),
    "session_units": Choice((50, 100, 200)),
    "loss": Choice(tuple(entry.name for entry in LOSSES if entry.tuned)),
    "n_extra_negatives": Choice((0, 128, 512, 2048)),
    "sample_alpha": FloatRange(0.0, 1.0),
    "constrained_embedding": Choice((False, True)),
    "dropout_embedding": FloatRange(0.0, 0.5),
}
#: ... and for HRNN, the user level's dropouts (its units follow the session level's).
_USER_SPACE: SearchSpace = {
    "dropout_user": FloatRange(0.0, 0.5),
    "dropout_init": FloatRange(0.0, 0.5),
}


def _derive(point: dict[str, Any]) -> dict[str, Any]:
    """Settings that follow from a drawn point: the final activation of its loss, no embedding
    dropout without the tied embedding (one-hot input has no embedding), and (HRNN) user units
    equal to session units, as in the paper's presets."""
    derived: dict[str, Any] = {"final_activation": "auto"}
    if not point.get("constrained_embedding", False):
        derived["dropout_embedding"] = 0.0
    if "dropout_user" in point:
        derived["user_units"] = point["session_units"]
    return derived


def _network(name: str, label: str, description: str, twin: str | None = None) -> ModelEntry:
    kind = NETWORK_KINDS[name]
    space = {**_SESSION_SPACE, **(_USER_SPACE if kind.hierarchical else {})}
    return ModelEntry(name=name, label=label, kind="neural", description=description, history=kind.history_feed,
                      personalized=kind.hierarchical or kind.concatenates, config_type=TrainConfig,
                      presets=NETWORK_PRESETS[name], search_space=space, derive=_derive, session_twin=twin,
                      hierarchical=kind.hierarchical)


NETWORKS: tuple[ModelEntry, ...] = (
    _network("rnn", "RNN", "Session-based GRU4Rec: each session on its own, the state reset at its start"),
    _network("rnn-concat", "RNN Concat", "GRU4Rec on each user's sessions concatenated into one sequence", "rnn"),
    _network("hrnn-init", "HRNN Init", "Hierarchical RNN: a user GRU over sessions initializes each session's "
             "GRU (Quadrana et al. 2017)", "rnn"),
    _network("hrnn-all", "HRNN All", "Hierarchical RNN whose user state also feeds the session GRU at every "
             "step", "rnn"),
    *SASREC_NETWORKS,
)
