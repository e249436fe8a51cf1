"""Training configuration of the neural models: declared settings (label, help, valid values),
validation and JSON round-trip."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError
from engine.models.losses import LOSSES
from engine.models.spec import NETWORK_KINDS, NetworkSpec, network_spec
from engine.registry.settings import ModelSettings, setting

#: Longest block of training steps one CUDA graph holds (its memory grows with the block).
MAX_CUDA_GRAPH_STEPS = 256
#: Largest float32: a step size or regularization beyond it cannot be applied to float32 weights.
MAX_FLOAT32 = 3.4028234663852886e38
_HRNN = " (HRNN only)"


@dataclass(frozen=True)
class TrainConfig(ModelSettings):
    """Everything that defines a training run. Dropout values are probabilities of dropping."""

    model: str = setting("hrnn-init", "Model", "The network: RNN, RNN Concat, HRNN Init or HRNN All",
                         choices=tuple(NETWORK_KINDS), hidden=True)
    session_units: int = setting(100, "Session units", "Units of the session-level GRU (the paper: 100 small, "
                                 "500 large)", low=1)
    user_units: int = setting(100, "User units", "Units of the user-level GRU" + _HRNN, low=1)
    embedding_size: int = setting(0, "Embedding size", "0: one-hot item input (a row of an items x 3H matrix, "
                                  "as the paper); N: an N-dimensional item embedding", low=0)
    batch_size: int = setting(50, "Batch size", "Parallel slots per step: sessions (RNN) or users (RNN Concat, "
                              "HRNN); the other slots' targets are the negatives", low=1)
    dropout_session: float = setting(0.1, "Session dropout", "Probability of dropping a unit of the session state "
                                     "carried to the next step", low=0.0, high=1.0, high_open=True)
    dropout_user: float = setting(0.0, "User dropout", "Probability of dropping a unit of the user state"
                                  + _HRNN, low=0.0, high=1.0, high_open=True)
    dropout_init: float = setting(0.0, "Init dropout", "Probability of dropping a unit of the session state "
                                  "initialized from the user state at a session start" + _HRNN,
                                  low=0.0, high=1.0, high_open=True)
    learning_rate: float = setting(0.1, "Learning rate", "Step size of the optimizer", low=0.0, low_open=True,
                                   high=MAX_FLOAT32)
    momentum: float = setting(0.0, "Momentum", "Heavy-ball momentum of Adagrad (0: plain Adagrad; Adam takes "
                              "none)", low=0.0, high=1.0, high_open=True)
    optimizer: str = setting("adagrad", "Optimizer", "Adagrad (the paper's, with optional momentum) or Adam",
                             choices=("adagrad", "adam"))
    loss: str = setting("top1", "Loss", "The ranking loss over the target and the sampled negatives",
                        choices=LOSSES.names)
    final_activation: str = setting("auto", "Final activation", "Applied to the scores in training: auto is tanh "
                                    "for TOP1 and BPR, linear for the others; elu is GRU4Rec's choice for "
                                    "BPR-max (ranking uses the raw scores either way)",
                                    choices=("auto", "tanh", "linear", "elu"))
    elu_alpha: float = setting(0.5, "ELU alpha", "Parameter of the ELU final activation, alpha * (exp(x) - 1) "
                               "below 0 (official GRU4Rec: 0.5)", low=0.0, low_open=True, high=MAX_FLOAT32)
    constrained_embedding: bool = setting(False, "Tied item embedding", "An item's input vector is its output "
                                          "vector (GRU4Rec's constrained embedding), followed by an input "
                                          "matrix; one table of item vectors learns from both uses")
    dropout_embedding: float = setting(0.0, "Embedding dropout", "Probability of dropping a unit of an item's "
                                       "input vector (with an embedding or the tied embedding)",
                                       low=0.0, high=1.0, high_open=True)
    reset_gate: str = setting("before", "GRU reset gate", "Where the GRUs' reset gate acts: on the state before the "
                              "recurrent product (GRU4Rec's Theano code, the HRNN authors' code) or on the product, "
                              "with PyTorch GRUCell's recurrent biases (a candidate bias, and a second bias of each "
                              "gate) as the official GRU4Rec PyTorch code",
                              choices=("before", "after"))
    loss_normalization: str = setting("rows", "Loss normalization", "A step's loss is the mean over its active rows, "
                                      "or their sum divided by the configured batch size (the official GRU4Rec code: "
                                      "the shrinking batch at an epoch's end then weighs less)",
                                      choices=("rows", "batch"))
    logq: float = setting(0.0, "Log-Q coefficient", "Cross-entropy only: subtract this times the log of each "
                          "column's sampling probability (its item's count; alpha times it for extra negatives), "
                          "as official GRU4Rec does", low=0.0, high=MAX_FLOAT32)
    bpr_max_reg: float = setting(1.0, "BPR-max regularization", "Weight of the score regularization of BPR-max",
                                 low=0.0, high=MAX_FLOAT32)
    n_extra_negatives: int = setting(0, "Extra negatives", "Negatives per step shared by all rows, on top of the "
                                     "other slots' targets", low=0)
    sample_alpha: float = setting(0.75, "Sampling alpha", "Extra negatives are drawn with probability "
                                  "proportional to popularity^alpha (0: uniform, 1: by popularity)", low=0.0, high=1.0)
    epochs: int = setting(10, "Epochs", "Passes over the training sessions", low=1)
    device: str = setting("auto", "Device", "auto: a CUDA GPU when there is one, else the CPU",
                          choices=("auto", "cpu", "cuda"), hidden=True)
    all_mode: str = setting("gates", "HRNN All user input", "How HRNN All feeds the user state to the session GRU: "
                            "to the reset and update gates (the authors' code) or to all gates (the paper's 'in "
                            "input')", choices=("gates", "input"))
    user_order: str = setting("random", "User order", "Order of the users in the batches (HRNN, RNN Concat): "
                              "random anew each epoch, or fixed", choices=("random", "fixed"))
    session_order: str = setting("time", "Session order", "Order of the sessions in the batches (RNN): by start "
                                 "time, or shuffled", choices=("time", "shuffle"))
    batch_end: str = setting("shrink", "Batch end", "At the end of an epoch the batch shrinks until empty, or the "
                             "epoch stops when the first slot cannot be refilled (the reference code)",
                             choices=("shrink", "stop_at_first_exhausted"))
    compat_2017: bool = setting(False, "2017 code compatibility", "Reproduce the 2017 reference code's known "
                                "issues: its session update at session starts, and hits counted as rank < K")
    cuda_graph_steps: int = setting(16, "CUDA graph steps", "On a GPU, training steps replayed per CUDA graph "
                                    "launch (0: no graphs)", low=0, high=MAX_CUDA_GRAPH_STEPS)

    @property
    def activation(self) -> str:
        """The final activation actually used."""
        if self.final_activation != "auto":
            return self.final_activation
        return "tanh" if LOSSES[self.loss].bounded else "linear"

    @property
    def hierarchical(self) -> bool:
        return NETWORK_KINDS[self.model].hierarchical

    def network_spec(self, n_items: int) -> NetworkSpec:
        return network_spec(self.model, n_items, self.session_units, self.user_units,
                            self.embedding_size, self.all_mode, self.compat_2017, self.constrained_embedding,
                            self.reset_gate == "after")

    def check(self) -> None:
        if self.momentum and self.optimizer != "adagrad":
            raise ConfigError("Momentum applies to the Adagrad optimizer only; set it to 0 for Adam",
                              setting="momentum", label="Momentum")
        if self.constrained_embedding and self.embedding_size:
            raise ConfigError("The tied item embedding has the session units' size: set Embedding size to 0",
                              setting="embedding_size", label="Embedding size")
        if self.dropout_embedding and not (self.embedding_size or self.constrained_embedding):
            raise ConfigError("Embedding dropout needs item embeddings (an Embedding size, or the tied "
                              "embedding); with one-hot input set it to 0",
                              setting="dropout_embedding", label="Embedding dropout")
        if self.logq and self.loss != "cross-entropy":
            raise ConfigError("The log-Q coefficient applies to the cross-entropy loss only; set it to 0",
                              setting="logq", label="Log-Q coefficient")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
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
