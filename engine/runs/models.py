"""The model registry: every model a run can train, in the order tables show them (the paper's
baselines, the other baselines, then the networks), and the configuration of a run of each.

The entries come from where each model is defined (:data:`engine.baselines.BASELINES`,
:data:`engine.training.networks.NETWORKS`); this is the single source the command line's
choices, the desktop app's lists, tuning, reports and inspection read."""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from engine.baselines import BASELINES
from engine.errors import ConfigError, InputError
from engine.registry.models import ModelEntry
from engine.registry.registry import Registry
from engine.registry.settings import ModelSettings, legacy_values, unknown_settings
from engine.training.networks import NETWORKS

log = logging.getLogger(__name__)

MODELS: Registry[ModelEntry] = Registry("model", [*BASELINES, *NETWORKS])


def model_entry(name: str) -> ModelEntry:
    """The registered model ``name`` (InputError listing the known ones otherwise)."""
    return MODELS[name]


def model_names(kind: str | None = None) -> tuple[str, ...]:
    """Names of the registered models, of one kind ("neural" or "baseline") or all."""
    return tuple(entry.name for entry in MODELS if kind is None or entry.kind == kind)


def presets_for(model: str) -> list[str]:
    """Names of the built-in presets of ``model`` (the default first)."""
    return list(MODELS[model].presets)


def build_config(model: str, preset: str | None, overrides: dict[str, Any], seed: int,
                 saved: dict[str, Any] | None = None) -> ModelSettings:
    """The validated configuration of a run: a built-in preset (the model's default when None)
    or a ``saved`` preset's configuration, with ``overrides`` and the seed applied. A setting the
    model does not have is refused, naming the ones it has."""
    entry = MODELS[model]
    if saved is not None:
        base = _from_stored(entry, saved)
    else:
        name = preset or entry.default_preset
        if name not in entry.presets:
            raise InputError(f"no preset {name!r} for {entry.label}; choose one of {', '.join(entry.presets)} "
                             "or a saved preset")
        base = entry.presets[name]
    unknown = unknown_settings(entry.config_type, list(overrides))
    if unknown:
        settings = [f.name for f in dataclasses.fields(entry.config_type) if f.name not in ("model", "seed")]
        raise ConfigError(f"{entry.label} has no setting {', '.join(unknown)} (its settings: "
                          f"{', '.join(settings) or 'none'})")
    return dataclasses.replace(base, **{**overrides, "seed": seed, "model": model}).validate()


def _from_stored(entry: ModelEntry, data: dict[str, Any]) -> ModelSettings:
    """A configuration stored by this program (a run's, a saved preset's): settings it no longer
    has are dropped (e.g. ``n_neighbors`` that every baseline stored before each had its own), and
    settings added since take the value those runs had (their declared ``legacy``, e.g. no
    popularity fill), else their default."""
    known = {f.name for f in dataclasses.fields(entry.config_type)}
    dropped = set(data) - known
    if dropped:
        log.debug("%s: ignoring stored settings %s", entry.name, sorted(dropped))
    stored = {key: value for key, value in data.items() if key in known}
    return entry.config_type(**{**legacy_values(entry.config_type), **stored})


def config_from_json(data: dict[str, Any]) -> ModelSettings:
    """The validated configuration stored with a run."""
    return _from_stored(MODELS[str(data.get("model"))], {**data}).validate()


def preset_config(model: str, preset: str | None) -> ModelSettings:
    """A built-in preset's configuration (seed 0); None or an unknown name: the model's default."""
    entry = MODELS[model]
    return entry.presets.get(preset or "", entry.presets[entry.default_preset])
