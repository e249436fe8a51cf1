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
    return TrainConfig(model=model, session_units=units, user_units=units, batch_size=batch,  # type: ignore[arg-type]
                       dropout_user=usr, dropout_session=ses, dropout_init=init,
                       learning_rate=lr, momentum=momentum, **_COMMON)


def _rnn(model: str, units: int) -> TrainConfig:
    return TrainConfig(model=model, session_units=units, batch_size=50, dropout_session=0.5,  # type: ignore[arg-type]
                       learning_rate=0.05, momentum=0.0, **_COMMON)


PRESETS: dict[str, TrainConfig] = {
    "hrnn-init-small": _hrnn("hrnn-init", 100, 50, 0.0, 0.1, 0.0, 0.1, 0.0),
    "hrnn-all-small": _hrnn("hrnn-all", 100, 100, 0.1, 0.1, 0.2, 0.1, 0.2),
    "hrnn-init-large": _hrnn("hrnn-init", 500, 100, 0.1, 0.2, 0.2, 0.1, 0.1),
    "hrnn-all-large": _hrnn("hrnn-all", 500, 50, 0.0, 0.2, 0.2, 0.05, 0.3),
    "rnn-small": _rnn("rnn", 100),
    "rnn-large": _rnn("rnn", 500),
    "rnn-concat-small": _rnn("rnn-concat", 100),
    "rnn-concat-large": _rnn("rnn-concat", 500),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """The preset ``name`` (a key of :data:`PRESETS`) with ``overrides`` applied and validated."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    try:
        config = dataclasses.replace(PRESETS[name], **overrides)
    except TypeError as exc:
        raise ConfigError(f"bad override for preset {name!r}: {exc}") from None
    return config.validate()
