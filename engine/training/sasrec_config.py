"""Settings of SASRec and its session-only twin: declared once (label, help with the source of the
default, valid values), validated, stored with each run as JSON."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.models.sasrec import CONTEXTS, SASRecSpec
from engine.models.sasrec_losses import SEQUENCE_LOSSES
from engine.registry.settings import ModelSettings, setting
from engine.training.config import MAX_FLOAT32

#: The two registered models: SASRec over the user's events across sessions, and its twin that
#: reads and trains on the current session alone.
SASREC_MODELS = ("sasrec", "sasrec-session")
#: The session-only twin's name.
SESSION_TWIN = "sasrec-session"
#: The default loss, chosen by measurement (bench/sasrec_losses.py; see the loss setting's help).
DEFAULT_LOSS = "sampled-cross-entropy"


@dataclass(frozen=True)
class SASRecConfig(ModelSettings):
    """Everything that defines a SASRec run. Dropout is a probability of dropping."""

    model: str = setting("sasrec", "Model", "SASRec over the user's events across sessions, or its session-only "
                         "twin", choices=SASREC_MODELS, hidden=True)
    hidden_size: int = setting(64, "Hidden size", "Width d of the item, position and hidden vectors (the paper: "
                               "50; RecBole and SASRec+: 64)", low=1)
    blocks: int = setting(2, "Blocks", "Self-attention blocks (the paper: 2)", low=1)
    heads: int = setting(1, "Heads", "Attention heads per block; the hidden size must be a multiple (the paper: 1)",
                         low=1)
    max_length: int = setting(50, "Max length L", "The last L events the model reads: across sessions for SASRec "
                              "(its training history, then the current session), within the current session for "
                              "the twin (the paper: 50, and 200 for MovieLens-1M)", low=1)
    dropout: float = setting(0.2, "Dropout", "Probability of dropping a unit of the input embeddings, the "
                             "attention weights and each block's outputs (the paper: 0.2 on MovieLens-1M, 0.5 on "
                             "sparse logs)", low=0.0, high=1.0, high_open=True)
    learning_rate: float = setting(0.005, "Learning rate", "Step size of Adam (betas 0.9, 0.98, as the paper; "
                                   "the paper's 0.001 learns 4 times slower at XING scale: validation recall@5 "
                                   "0.027 against 0.110 after 10 epochs, and reaches the same on the small logs)",
                                   low=0.0, low_open=True, high=MAX_FLOAT32)
    batch_size: int = setting(128, "Batch size", "Windows of up to L events per step (the paper: 128)", low=1)
    epochs: int = setting(30, "Epochs", "Passes over the training windows: with 'all', each training event is a "
                          "target once per epoch (SASRec takes an epoch in few, large steps: small logs want more)",
                          low=1)
    loss: str = setting(DEFAULT_LOSS, "Loss", "cross-entropy over all items (exact; each step scores every item); "
                        "sampled cross-entropy over K negatives with the log-Q correction (the default, measured: "
                        "at its best within 100 epochs, validation recall@5 0.332 against the full "
                        "cross-entropy's 0.335 on the Taobao slice and 0.033 against 0.040 on MovieLens 100K, "
                        "ahead of BCE and gBCE, and its step does not grow with the items); the paper's binary "
                        "cross-entropy with one negative; gSASRec's calibrated gBCE over K negatives",
                        choices=SEQUENCE_LOSSES.names)
    negatives: int = setting(256, "Negatives K", "Negatives of the sampled cross-entropy (shared by a batch) and "
                             "of gBCE (drawn for each sequence; gSASRec: 256)", low=1)
    negative_sampling: str = setting("uniform", "Negative sampling", "How the sampled cross-entropy draws its "
                                     "negatives: uniformly, or in proportion to the items' training counts "
                                     "(gBCE and BCE always draw uniformly)", choices=("uniform", "popularity"))
    gbce_calibration: float = setting(0.75, "gBCE calibration t", "gBCE's t in [0, 1]: 0 is binary cross-entropy "
                                      "over K negatives, 1 fully calibrated (gSASRec's experiments: 0.75)",
                                      low=0.0, high=1.0)
    context: str = setting("none", "Context embedding", "Beyond the position: nothing (the paper), or an "
                           "embedding of the time since the user's previous event in 9 buckets (none, 1 min, 5 min, "
                           "30 min, 2 h, 1 day, 1 week, 30 days, more), which marks session boundaries and tells "
                           "earlier today from last month", choices=CONTEXTS)
    windows: str = setting("all", "Training windows", "every window: each sequence cut into windows of L events "
                           "from its end, every event a target once per epoch; latest: each sequence's last L "
                           "events only, as the paper's sampler", choices=("all", "latest"))
    device: str = setting("auto", "Device", "auto: a CUDA GPU when there is one, else the CPU",
                          choices=("auto", "cpu", "cuda"), hidden=True)

    @property
    def sessions_only(self) -> bool:
        """The twin: trained and fed on each session alone."""
        return self.model == SESSION_TWIN

    def network_spec(self, n_items: int) -> SASRecSpec:
        return SASRecSpec(n_items=n_items, hidden_size=self.hidden_size, blocks=self.blocks, heads=self.heads,
                          max_length=self.max_length, dropout=self.dropout, context=self.context)

    def check(self) -> None:
        if self.hidden_size % self.heads:
            raise ConfigError(f"The hidden size ({self.hidden_size}) must be a multiple of the heads ({self.heads})",
                              setting="heads", label="Heads")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SASRecConfig:
        """Parse and validate; unknown keys are an error (keys missing take their defaults)."""
        try:
            values: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"SASRec configuration is not valid JSON: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError("SASRec configuration must be a JSON object")
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown SASRec settings: {', '.join(unknown)}")
        return cls(**values).validate()
