"""The messages a process executing runs sends about them, one JSON object per line (the desktop
app executes runs in a child process and reads them back): a typed, versioned schema shared by
both sides. Every line carries ``protocol`` (:data:`PROTOCOL_VERSION`) and ``event`` (the kind);
the other keys are the message's fields."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar, get_type_hints

from engine.errors import WorkbenchError

PROTOCOL_VERSION = 1


class ProtocolError(WorkbenchError):
    """A line claims to be a run message but does not follow this version of the schema."""


@dataclass(frozen=True)
class RunStarted:
    event: ClassVar[str] = "started"
    run: int
    device: str


@dataclass(frozen=True)
class RunProgress:
    event: ClassVar[str] = "progress"
    run: int
    fraction: float  # of the run's work, in [0, 1]
    message: str
    eta_s: float | None = None  # seconds left, None while unknown


@dataclass(frozen=True)
class RunEpoch:
    event: ClassVar[str] = "epoch"
    run: int
    epoch: int  # from 1
    loss: float | None  # the epoch's mean training loss; None when it was not finite
    seconds: float


@dataclass(frozen=True)
class RunEvaluated:
    event: ClassVar[str] = "evaluated"
    run: int
    metrics: dict[str, float]  # averages over the test events, e.g. {"recall@5": 0.41}
    n_events: int


@dataclass(frozen=True)
class RunEvaluationFailed:
    event: ClassVar[str] = "evaluation_failed"
    run: int
    error: str


@dataclass(frozen=True)
class RunFinished:
    event: ClassVar[str] = "finished"
    run: int
    status: str  # finished, failed or cancelled
    error: str | None = None


RunMessage = RunStarted | RunProgress | RunEpoch | RunEvaluated | RunEvaluationFailed | RunFinished
_KINDS: dict[str, Any] = {kind.event: kind for kind in
                           (RunStarted, RunProgress, RunEpoch, RunEvaluated, RunEvaluationFailed, RunFinished)}


def encode(message: RunMessage) -> str:
    """One JSON line (without the newline)."""
    return json.dumps({"protocol": PROTOCOL_VERSION, "event": message.event, **dataclasses.asdict(message)})


def decode(line: str) -> RunMessage | None:
    """The message on ``line``; None when the line is not a run message (other output of the
    process); :class:`ProtocolError` when it is one of another version or with bad fields."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "protocol" not in data or "event" not in data:
        return None
    if data["protocol"] != PROTOCOL_VERSION:
        raise ProtocolError(f"run message of protocol {data['protocol']!r}; this version reads {PROTOCOL_VERSION}")
    kind = _KINDS.get(data["event"])
    if kind is None:
        raise ProtocolError(f"unknown run message {data['event']!r}")
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(kind):
        if field.name not in data:
            if field.default is dataclasses.MISSING:
                raise ProtocolError(f"run message {kind.event!r} lacks {field.name!r}")
            continue
        values[field.name] = _typed(data[field.name], hints[field.name], kind.event, field.name)
    return kind(**values)


def _typed(value: Any, hint: Any, event: str, name: str) -> Any:
    """``value`` checked against the field's type (JSON has no int/float distinction)."""
    optional = hint in (float | None, str | None)
    if value is None and optional:
        return None
    base = {float | None: float, str | None: str}.get(hint, hint)
    if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if base is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base is str and isinstance(value, str):
        return value
    if base == dict[str, float] and isinstance(value, dict):
        return {str(k): float(v) if v is not None else math.nan for k, v in value.items()}
    raise ProtocolError(f"run message {event!r}: {name} = {value!r} is not a {base}")
