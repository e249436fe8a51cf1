"""A model's declared search space as Optuna's suggestions, checked against the model's settings
before a study starts."""
from __future__ import annotations

from typing import Any

import optuna

from engine.errors import InputError
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice, Distribution, FloatRange, IntRange, SearchSpace, describe_space
from engine.registry.settings import setting_info


def suggest(trial: optuna.Trial, name: str, distribution: Distribution) -> Any:
    """The trial's value of setting ``name`` drawn from ``distribution``."""
    if isinstance(distribution, Choice):
        return trial.suggest_categorical(name, list(distribution.values))
    if isinstance(distribution, IntRange):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step,
                                 log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)


def _ends(distribution: Distribution) -> tuple[Any, ...]:
    """The values that must all be valid for every drawn value to be (ranges are intervals)."""
    if isinstance(distribution, Choice):
        return distribution.values
    if isinstance(distribution, IntRange):
        return distribution.low, distribution.low + distribution.step * (
            (distribution.high - distribution.low) // distribution.step)
    return float(distribution.low), float(distribution.high)


def searched_space(entry: ModelEntry, fixed: dict[str, Any]) -> SearchSpace:
    """What a study of ``entry`` explores: its declared space less the ``fixed`` settings. Raises
    :class:`InputError` when nothing is left to search, or when the space is impossible: a setting
    the model lacks, or values its declaration refuses."""
    space = {name: distribution for name, distribution in entry.search_space.items() if name not in fixed}
    if not space:
        reason = "declares no settings to search" if not entry.search_space else "has every searched setting fixed"
        raise InputError(f"{entry.label} {reason}: an empty search space (nothing to tune)")
    for name, distribution in space.items():
        if not isinstance(distribution, (FloatRange, IntRange, Choice)):
            raise InputError(f"the search space of {entry.label} gives {name} an unknown kind of distribution")
        try:
            info = setting_info(entry.config_type, name)
        except KeyError:
            raise InputError(f"the search space of {entry.label} is impossible: {entry.label} has no setting "
                             f"{name!r}") from None
        for value in _ends(distribution):
            problem = info.problem(value)
            if problem is not None:
                raise InputError(f"the search space of {entry.label} is impossible: {info.label} "
                                 f"{distribution.describe()} includes {value!r}, but it {problem}")
    return space


def default_point(entry: ModelEntry, fixed: dict[str, Any]) -> dict[str, Any]:
    """The values of the searched settings in the model's default preset, where its search space
    holds them: a study's first trial (a tuned configuration is then never one the defaults beat
    on the validation sample, however small the budget). A default outside its range is left to
    the sampler."""
    defaults = entry.presets[entry.default_preset]
    point = {}
    for name, distribution in searched_space(entry, fixed).items():
        value = getattr(defaults, name)
        if distribution.contains(value):
            point[name] = value
    return point


__all__ = ["default_point", "describe_space", "searched_space", "suggest"]
