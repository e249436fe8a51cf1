"""Search spaces of hyper-parameters, declared once per model beside its settings. Tuning turns
each distribution into a sampler's suggestion (Optuna's ``suggest_float``, ``suggest_int``,
``suggest_categorical``)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError


@dataclass(frozen=True)
class FloatRange:
    """A real number in [low, high], uniform or (``log``) log-uniform."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high or (self.log and self.low <= 0):
            scale = " on a log scale" if self.log else ""
            raise InputError(f"an empty or impossible range [{self.low}, {self.high}]{scale}")

    def describe(self) -> str:
        return f"{self.low:g}..{self.high:g}{' (log)' if self.log else ''}"

    def contains(self, value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high] in steps of ``step``, uniform or (``log``) log-uniform."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high or self.step < 1 or (self.log and (self.low < 1 or self.step != 1)):
            raise InputError(f"an empty or impossible integer range [{self.low}, {self.high}] step {self.step}")

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"{self.low}..{self.high}{step}{' (log)' if self.log else ''}"

    def contains(self, value: Any) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high
                and (value - self.low) % self.step == 0)


@dataclass(frozen=True)
class Choice:
    """One of ``values``."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise InputError("a choice among no values")

    def describe(self) -> str:
        return "{" + ", ".join(map(str, self.values)) + "}"

    def contains(self, value: Any) -> bool:
        return any(value == choice and isinstance(value, bool) == isinstance(choice, bool) for choice in self.values)


Distribution = FloatRange | IntRange | Choice
#: Setting name -> distribution.
SearchSpace = Mapping[str, Distribution]


def describe_space(space: SearchSpace) -> str:
    """One line: ``learning_rate 0.01..0.3 (log); momentum {0.0, 0.1}``."""
    return "; ".join(f"{name} {distribution.describe()}" for name, distribution in space.items())
