"""Named hyper-parameter presets: the paper's Table 2 (XING) for HRNN, GRU4Rec 2016 for RNN.

All: 10 epochs, TOP1 loss, tanh output (``final_activation='auto'``, so that a loss override
gets its own default), one-hot input, Adagrad (with momentum where given).
RNN Concat uses the RNN settings (the paper tunes it like RNN).
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


#: Presets of each network kind by preset name; the first is the default.
NETWORK_PRESETS: dict[str, dict[str, TrainConfig]] = {
    "rnn": {"small": _rnn("rnn", 100), "large": _rnn("rnn", 500)},
    "rnn-concat": {"small": _rnn("rnn-concat", 100), "large": _rnn("rnn-concat", 500)},
    "hrnn-init": {"small": _hrnn("hrnn-init", 100, 50, 0.0, 0.1, 0.0, 0.1, 0.0),
                  "large": _hrnn("hrnn-init", 500, 100, 0.1, 0.2, 0.2, 0.1, 0.1)},
    "hrnn-all": {"small": _hrnn("hrnn-all", 100, 100, 0.1, 0.1, 0.2, 0.1, 0.2),
                 "large": _hrnn("hrnn-all", 500, 50, 0.0, 0.2, 0.2, 0.05, 0.3)},
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The preset ``name`` ("hrnn-init-small": the network kind, then the preset) with
    ``overrides`` applied and validated."""
    kind, _, preset_name = name.rpartition("-")
    if preset_name not in NETWORK_PRESETS.get(kind, {}):
        known = [f"{k}-{p}" for k, presets in NETWORK_PRESETS.items() for p in presets]
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(known)}")
    try:
        config = dataclasses.replace(NETWORK_PRESETS[kind][preset_name], **overrides)
    except TypeError as exc:
        raise ConfigError(f"bad override for preset {name!r}: {exc}") from None
    return config.validate()
