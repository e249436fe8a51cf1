"""SASRec and its session-only twin as the model registry knows them: labels, presets and the
search space tuning explores."""
from __future__ import annotations

import dataclasses

from engine.models.sasrec import CONTEXTS
from engine.models.sasrec_losses import SEQUENCE_LOSSES
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice, FloatRange, SearchSpace
from engine.training.sasrec_config import SESSION_TWIN, SASRecConfig

#: What tuning explores (the ranges of the SASRec, SASRec+ and gSASRec papers).
_SPACE: SearchSpace = {
    "hidden_size": Choice((32, 64, 128)),
    "blocks": Choice((1, 2, 3)),
    "heads": Choice((1, 2)),
    "max_length": Choice((20, 50, 100, 200)),
    "dropout": FloatRange(0.0, 0.6),
    "learning_rate": FloatRange(1e-4, 1e-2, log=True),
    "batch_size": Choice((64, 128, 256)),
    "loss": Choice(SEQUENCE_LOSSES.names()),
    "negatives": Choice((64, 256, 1024)),
    "context": Choice(CONTEXTS),
}


def _presets(model: str) -> dict[str, SASRecConfig]:
    """"default": the workbench's defaults (declared on SASRecConfig); "paper": Kang & McAuley's
    setup for sparse logs (d = 50, 2 blocks, 1 head, L = 50, dropout 0.5, Adam 0.001, batch 128,
    binary cross-entropy with one negative, each sequence's latest window per epoch, 200 epochs)."""
    default = SASRecConfig(model=model)
    paper = dataclasses.replace(default, hidden_size=50, blocks=2, heads=1, max_length=50, dropout=0.5,
                                learning_rate=0.001, batch_size=128, loss="bce", windows="latest", epochs=200,
                                context="none")
    return {"default": default, "paper": paper}


SASREC_NETWORKS: tuple[ModelEntry, ...] = (
    ModelEntry(name="sasrec", label="SASRec", kind="neural",
               description="Self-attention over the user's last L events across sessions (Kang & McAuley 2018)",
               history="all_events", personalized=True, config_type=SASRecConfig, presets=_presets("sasrec"),
               search_space=_SPACE, session_twin=SESSION_TWIN),
    ModelEntry(name=SESSION_TWIN, label="SASRec Session", kind="neural",
               description="SASRec trained and fed on the current session alone: its session-only twin",
               history="none", personalized=False, config_type=SASRecConfig, presets=_presets(SESSION_TWIN),
               search_space=_SPACE),
)
