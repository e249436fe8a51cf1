"""Training configuration of the neural models, with validation and JSON round-trip."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from engine.errors import ConfigError
from engine.models.spec import LOSS_KINDS, MODEL_KINDS, NetworkSpec, network_spec

#: Longest block of training steps one CUDA graph holds (its memory grows with the block).
MAX_CUDA_GRAPH_STEPS = 256


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Dropout values are probabilities of dropping."""

    model: Literal["rnn", "rnn-concat", "hrnn-init", "hrnn-all"] = "hrnn-init"
    session_units: int = 100
    user_units: int = 100  # HRNN only
    embedding_size: int = 0  # 0: one-hot input (a row of an items x 3H matrix)
    batch_size: int = 50
    dropout_session: float = 0.1
    dropout_user: float = 0.0  # HRNN only
    dropout_init: float = 0.0  # HRNN only
    learning_rate: float = 0.1
    momentum: float = 0.0  # adagrad only
    optimizer: Literal["adagrad", "adam"] = "adagrad"
    loss: Literal["top1", "bpr", "cross-entropy", "cross-entropy-logq", "top1-max", "bpr-max"] = "top1"
    final_activation: Literal["auto", "tanh", "linear"] = "auto"  # auto: tanh for TOP1 and BPR, else linear
    bpr_max_reg: float = 1.0  # score regularization of bpr-max
    n_extra_negatives: int = 0  # shared negatives per step on top of the in-batch ones
    sample_alpha: float = 0.75  # extra negatives are drawn with probability ~ popularity^alpha
    epochs: int = 10
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when available, else CPU
    all_mode: Literal["gates", "input"] = "gates"  # HRNN All: c feeds the r/z gates, or all three
    user_order: Literal["random", "fixed"] = "random"  # HRNN, RNN Concat: random anew each epoch
    session_order: Literal["time", "shuffle"] = "time"  # RNN: by session start time, or shuffled
    batch_end: Literal["shrink", "stop_at_first_exhausted"] = "shrink"
    compat_2017: bool = False  # reproduce the 2017 reference code's known issues (HRNN update, rank < K)
    cuda_graph_steps: int = 16  # on a GPU, steps replayed per CUDA graph launch; 0: no graphs

    @property
    def activation(self) -> str:
        """The final activation actually used."""
        if self.final_activation != "auto":
            return self.final_activation
        return "tanh" if self.loss in ("top1", "bpr") else "linear"  # the max losses need unbounded scores

    @property
    def hierarchical(self) -> bool:
        return self.model.startswith("hrnn")

    def network_spec(self, n_items: int) -> NetworkSpec:
        return network_spec(self.model, n_items, self.session_units, self.user_units,
                            self.embedding_size, self.all_mode, self.compat_2017)

    def validate(self) -> "TrainConfig":
        """Raise :class:`ConfigError` naming the first bad setting; return self."""
        choices: dict[str, tuple[str, ...]] = {
            "model": MODEL_KINDS, "optimizer": ("adagrad", "adam"), "loss": LOSS_KINDS,
            "final_activation": ("auto", "tanh", "linear"), "device": ("auto", "cpu", "cuda"),
            "all_mode": ("gates", "input"), "user_order": ("random", "fixed"),
            "session_order": ("time", "shuffle"), "batch_end": ("shrink", "stop_at_first_exhausted"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} = {getattr(self, name)!r} is not one of: {', '.join(allowed)}")
        for name, low in (("session_units", 1), ("user_units", 1), ("embedding_size", 0),
                          ("batch_size", 1), ("n_extra_negatives", 0), ("epochs", 1),
                          ("cuda_graph_steps", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} = {value!r} must be an integer >= {low}")
        for name in ("dropout_session", "dropout_user", "dropout_init"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} = {value!r} must be a probability in [0, 1)")
        if self.cuda_graph_steps > MAX_CUDA_GRAPH_STEPS:
            raise ConfigError(f"cuda_graph_steps = {self.cuda_graph_steps} must be at most {MAX_CUDA_GRAPH_STEPS}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate = {self.learning_rate!r} must be a positive number")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum = {self.momentum!r} must be in [0, 1)")
        if self.momentum and self.optimizer != "adagrad":
            raise ConfigError("momentum applies to the adagrad optimizer only; set it to 0 for adam")
        if not (math.isfinite(self.sample_alpha) and 0.0 <= self.sample_alpha <= 1.0):
            raise ConfigError(f"sample_alpha = {self.sample_alpha!r} must be in [0, 1]")
        if not (math.isfinite(self.bpr_max_reg) and self.bpr_max_reg >= 0):
            raise ConfigError(f"bpr_max_reg = {self.bpr_max_reg!r} must be >= 0")
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        """Parse and validate; unknown keys are an error (keys missing take their defaults)."""
        try:
            values: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"training configuration is not valid JSON: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError("training configuration must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**values).validate()
