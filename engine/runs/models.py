"""The models a run can train: their names, kinds and default configurations."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError
from engine.training.config import TrainConfig
from engine.training.presets import PRESETS as NEURAL_PRESETS

NEURAL_MODELS: tuple[str, ...] = ("rnn", "rnn-concat", "hrnn-init", "hrnn-all")
BASELINE_MODELS: tuple[str, ...] = ("pop", "personal-pop", "item-knn")
MODELS: tuple[str, ...] = BASELINE_MODELS + NEURAL_MODELS
#: Names of the baselines in engine.baselines.fit_baseline.
BASELINE_FIT_NAMES: dict[str, str] = {"pop": "pop", "personal-pop": "personal_pop", "item-knn": "item_knn"}
MODEL_LABELS: dict[str, str] = {
    "pop": "Pop", "personal-pop": "Personal Pop", "item-knn": "Item-KNN", "rnn": "RNN",
    "rnn-concat": "RNN Concat", "hrnn-init": "HRNN Init", "hrnn-all": "HRNN All",
}


@dataclass(frozen=True)
class BaselineConfig:
    """Configuration of a non-neural baseline (Item-KNN uses ``n_neighbors``)."""

    model: str = "pop"
    n_neighbors: int = 300
    seed: int = 0

    def validate(self) -> "BaselineConfig":
        if self.model not in BASELINE_MODELS:
            raise InputError(f"unknown baseline {self.model!r}; choose one of {', '.join(BASELINE_MODELS)}")
        if self.n_neighbors < 1:
            raise InputError(f"n_neighbors = {self.n_neighbors} must be at least 1")
        return self


def presets_for(model: str) -> list[str]:
    """Names of the presets of ``model`` ("small", "large"); baselines have one, "default"."""
    check_model(model)
    if model in BASELINE_MODELS:
        return ["default"]
    return [name[len(model) + 1:] for name in NEURAL_PRESETS if name.rsplit("-", 1)[0] == model]


def check_model(model: str) -> None:
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def build_config(model: str, preset: str | None, overrides: dict[str, Any], seed: int,
                 saved: dict[str, Any] | None = None) -> TrainConfig | BaselineConfig:
    """The validated configuration of a run: a built-in preset ("small" by default for neural
    models) or a ``saved`` preset's configuration, with ``overrides`` and the seed applied."""
    check_model(model)
    if model in BASELINE_MODELS:
        unknown = set(overrides) - {"n_neighbors"}
        if unknown:
            raise InputError(f"{model} has no setting {', '.join(sorted(unknown))}")
        return BaselineConfig(**{**(saved or {}), **overrides, "model": model, "seed": seed}).validate()
    if saved is not None:
        base = TrainConfig(**saved)
    else:
        name = f"{model}-{preset or 'small'}"
        if name not in NEURAL_PRESETS:
            raise InputError(f"no preset {preset!r} for {model}; choose one of {', '.join(presets_for(model))} "
                             "or a saved preset")
        base = NEURAL_PRESETS[name]
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise InputError(f"unknown training settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(base, **{**overrides, "seed": seed, "model": model}).validate()


def config_from_json(data: dict[str, Any]) -> TrainConfig | BaselineConfig:
    """The configuration stored with a run."""
    if data.get("model") in BASELINE_MODELS:
        return BaselineConfig(**data).validate()
    return TrainConfig(**data).validate()
