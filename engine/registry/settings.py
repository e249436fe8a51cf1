"""Declared settings: each field of a configuration dataclass carries its label, a help text and
its valid values, so that validation, the command line, the desktop app's generated forms (labels,
tooltips, spin box ranges) and tuning all read one declaration.

A field is declared with :func:`setting`; :func:`validate_settings` checks every declared field of
a configuration and raises a :class:`ConfigError` that names the setting by its label."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from engine.errors import ConfigError

_KEY = "setting"
#: :attr:`SettingInfo.legacy` of a setting whose stored configurations take the default when it is missing.
NO_LEGACY = object()


@dataclass(frozen=True)
class SettingInfo:
    """What a setting is and which values it takes. ``kind`` is bool, int, float, str or tuple (a
    list of names); numbers lie in [low, high] (an open end where ``low_open`` / ``high_open``;
    None: unbounded); text takes one of ``choices`` (a callable gives them late, e.g. from a
    registry); ``optional``: None is a value too (e.g. no limit)."""

    name: str
    label: str
    help: str
    kind: type
    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | Callable[[], Sequence[Any]] | None = None
    hidden: bool = False  # not shown in generated forms (e.g. the model name, the seed)
    #: the value of a configuration stored before this setting existed (what such runs did);
    #: :data:`NO_LEGACY`: the default
    legacy: Any = NO_LEGACY
    #: a switch's words in run labels when it is on ("popularity fill"); None: shown only where it
    #: differs from the preset
    tag: str | None = None
    optional: bool = False

    def allowed(self) -> tuple[Any, ...] | None:
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def range_text(self) -> str:
        """The valid values in words: "in [0, 1)", "at least 1", "one of top1, bpr"."""
        allowed = self.allowed()
        if allowed is not None:
            return "one of " + ", ".join(map(str, allowed))
        if self.kind is tuple:
            return "a list of names"
        if self.kind is bool:
            return "true or false"
        low, high = _number(self.low), _number(self.high)
        if low and high:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if low:
            return f"{'greater than' if self.low_open else 'at least'} {low}"
        if high:
            return f"{'less than' if self.high_open else 'at most'} {high}"
        return "a number" if self.kind in (int, float) else "text"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not valid (a phrase after the label), or None."""
        if value is None and self.optional:
            return None
        if self.kind is tuple:
            valid = isinstance(value, (tuple, list)) and all(isinstance(name, str) for name in value)
            return None if valid else "must be a list of names"
        if self.kind is bool:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be {'an integer' if self.kind is int else 'a number'} {self.range_text()}"
            if self.kind is int and not isinstance(value, int):
                return f"must be an integer {self.range_text()}"
            if not math.isfinite(value) or not self._in_range(value):
                return f"must be {self.range_text()}"
            return None
        allowed = self.allowed()
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            return f"must be {self.range_text()}"
        return None

    def _in_range(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))


def _number(value: float | None) -> str:
    """An end of a range as text: integers whole, other numbers in %g ("" for no end)."""
    if value is None:
        return ""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e16):
        return str(int(value))
    return f"{value:g}"


def setting(default: Any, label: str, help: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False,
            choices: tuple[Any, ...] | Callable[[], Sequence[Any]] | None = None, hidden: bool = False,
            legacy: Any = NO_LEGACY, tag: str | None = None, kind: type | None = None, optional: bool = False) -> Any:
    """A dataclass field with ``default`` and its declaration (see :class:`SettingInfo`); ``kind``
    where the default does not tell it (a None default of an ``optional`` number, a tuple)."""
    declaration = {"label": label, "help": help, "low": low, "high": high, "low_open": low_open,
                   "high_open": high_open, "choices": choices, "hidden": hidden, "legacy": legacy, "tag": tag,
                   "kind": kind, "optional": optional}
    return dataclasses.field(default=default, metadata={_KEY: declaration})


def settings_of(config_type: type) -> list[SettingInfo]:
    """The declared settings of a configuration dataclass, in field order."""
    declared = []
    for field in dataclasses.fields(config_type):
        meta = field.metadata.get(_KEY)
        if meta is None:
            continue
        default = field.default
        declaration = dict(meta)
        kind = declaration.pop("kind") or (type(default) if isinstance(default, (bool, int, float, str, tuple))
                                           else str)
        declared.append(SettingInfo(field.name, kind=kind, default=default, **declaration))
    return declared


def setting_info(config_type: type, name: str) -> SettingInfo:
    """The declaration of one setting (KeyError when ``name`` is not a declared setting)."""
    for info in settings_of(config_type):
        if info.name == name:
            return info
    raise KeyError(name)


def validate_settings(config: Any) -> None:
    """Raise :class:`ConfigError` for the first declared setting of ``config`` whose value is not
    valid: "Session dropout must be in [0, 1) (got 1.5)"."""
    for info in settings_of(type(config)):
        value = getattr(config, info.name)
        problem = info.problem(value)
        if problem is not None:
            raise ConfigError(f"{info.label} {problem} (got {value!r})", setting=info.name, label=info.label)


def legacy_values(config_type: type) -> dict[str, Any]:
    """The settings added after configurations were first stored, with what those configurations did."""
    return {info.name: info.legacy for info in settings_of(config_type) if info.legacy is not NO_LEGACY}


def unknown_settings(config_type: type, names: Sequence[str]) -> list[str]:
    """Those of ``names`` that are not fields of ``config_type``."""
    known = {field.name for field in dataclasses.fields(config_type)}
    return sorted(set(names) - known)


#: Largest seed (numpy's and torch's generators take any 64-bit unsigned value; 2^63 - 1 fits SQL integers).
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class ModelSettings:
    """The settings every model has: which model they are for and the seed. Subclasses declare
    their own settings with :func:`setting` and may add cross-setting checks in :meth:`check`."""

    model: str = setting("", "Model", "The model these settings are for", hidden=True)
    seed: int = setting(0, "Seed", "Seed of every random choice of the run (initial weights, order, dropout)",
                        low=0, high=MAX_SEED, hidden=True)

    def validate(self) -> Self:
        """Raise :class:`ConfigError` naming the first bad setting; return self."""
        validate_settings(self)
        self.check()
        return self

    def check(self) -> None:
        """Checks that involve several settings (after each one was found valid on its own)."""
