"""Named hyper-parameter presets: the paper's Table 2 (XING) for HRNN, GRU4Rec 2016 for RNN, and
the official GRU4Rec (PyTorch) code's defaults for every network.

"small" and "large": 10 epochs, TOP1 loss, tanh output (``final_activation='auto'``, so that a
loss override gets its own default), one-hot input, Adagrad (with momentum where given). RNN
Concat uses the RNN settings (the paper tunes it like RNN).

"gru4rec-official": the recipe of the official GRU4Rec PyTorch code (hidasib/GRU4Rec_PyTorch_Official,
the ``GRU4Rec`` class defaults and its README): BPR-max over an ELU(0.5) final activation with
score regularization 1.0, 2048 extra negatives drawn by popularity^0.5, the constrained (tied)
item embedding, learning rate 0.05 without momentum, no dropout, 100 units, 10 epochs; PyTorch's
GRU cell (reset gate after the recurrent product, two biases per gate) and the loss summed over a step's rows divided
by the configured batch size, as that code does; the batch of 100 of its usual runs (its class
default is 64).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from engine.errors import ConfigError
from engine.training.config import TrainConfig

_COMMON: dict[str, Any] = dict(epochs=10, loss="top1", final_activation="auto", embedding_size=0,
                               optimizer="adagrad")


def _hrnn(model: str, units: int, batch: int, usr: float, ses: float, init: float,
          lr: float, momentum: float) -> TrainConfig:
    return TrainConfig(model=model, session_units=units, user_units=units, batch_size=batch,
                       dropout_user=usr, dropout_session=ses, dropout_init=init,
                       learning_rate=lr, momentum=momentum, **_COMMON)


def _rnn(model: str, units: int) -> TrainConfig:
    return TrainConfig(model=model, session_units=units, batch_size=50, dropout_session=0.5,
                       learning_rate=0.05, momentum=0.0, **_COMMON)


def _official(model: str) -> TrainConfig:
    return TrainConfig(model=model, session_units=100, user_units=100, batch_size=100, dropout_session=0.0,
                       dropout_user=0.0, dropout_init=0.0, dropout_embedding=0.0, learning_rate=0.05, momentum=0.0,
                       optimizer="adagrad", loss="bpr-max", final_activation="elu", elu_alpha=0.5, bpr_max_reg=1.0,
                       n_extra_negatives=2048, sample_alpha=0.5, constrained_embedding=True, embedding_size=0,
                       logq=0.0, reset_gate="after", loss_normalization="batch", epochs=10)


#: Presets of each network kind by preset name; the first is the default.
NETWORK_PRESETS: dict[str, dict[str, TrainConfig]] = {
    "rnn": {"small": _rnn("rnn", 100), "large": _rnn("rnn", 500), "gru4rec-official": _official("rnn")},
    "rnn-concat": {"small": _rnn("rnn-concat", 100), "large": _rnn("rnn-concat", 500),
                   "gru4rec-official": _official("rnn-concat")},
    "hrnn-init": {"small": _hrnn("hrnn-init", 100, 50, 0.0, 0.1, 0.0, 0.1, 0.0),
                  "large": _hrnn("hrnn-init", 500, 100, 0.1, 0.2, 0.2, 0.1, 0.1),
                  "gru4rec-official": _official("hrnn-init")},
    "hrnn-all": {"small": _hrnn("hrnn-all", 100, 100, 0.1, 0.1, 0.2, 0.1, 0.2),
                 "large": _hrnn("hrnn-all", 500, 50, 0.0, 0.2, 0.2, 0.05, 0.3),
                 "gru4rec-official": _official("hrnn-all")},
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The preset ``name`` ("hrnn-init-small", "rnn-gru4rec-official": the network kind, then the preset) with
    ``overrides`` applied and validated."""
    kind, preset_name = next(((k, name[len(k) + 1:]) for k in sorted(NETWORK_PRESETS, key=len, reverse=True)
                              if name.startswith(f"{k}-")), ("", name))
    if preset_name not in NETWORK_PRESETS.get(kind, {}):
        known = [f"{k}-{p}" for k, presets in NETWORK_PRESETS.items() for p in presets]
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(known)}")
    try:
        config = dataclasses.replace(NETWORK_PRESETS[kind][preset_name], **overrides)
    except TypeError as exc:
        raise ConfigError(f"bad override for preset {name!r}: {exc}") from None
    return config.validate()
