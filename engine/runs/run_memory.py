"""How much memory training a network takes, refused before a run is created when it exceeds the
memory budget (the imports' budget: a share of physical memory, or ``HRNN_MEMORY_BUDGET``).

The estimate counts float32 numbers: the item tables (``item_in`` [n_items + 1, 3H or E] and
``item_out`` [n_items + 1, H + 1]) with the optimizer's two states (Adagrad's accumulator and
momentum, or Adam's moments; their gradients are sparse, a batch's rows), the dense parameters
with their gradient and the optimizer's states; and per step the
score matrix of the batch's targets and the shared negatives [B, B + X] with its gradient and the
loss's temporaries, the negatives' rows [X, H + 1] and the slots' states. It is an order of
magnitude, not a measurement: it tells a setting of 10^9 from a large but trainable one."""
from __future__ import annotations

import dataclasses
import math

from engine.errors import ConfigError
from engine.memory import BUDGET_VARIABLE, memory_budget
from engine.registry.settings import settings_of
from engine.training.config import TrainConfig

FLOAT_BYTES = 4
#: Copies of the item tables (the weights and two optimizer states) and of the dense parameters
#: (with their gradient too).
ITEM_TABLE_COPIES, DENSE_COPIES = 3, 4
#: Copies of the step's score matrix: the scores, their activation, the loss's temporaries and gradient.
SCORE_COPIES = 4
#: The settings whose size drives the estimate (named in a refusal).
SIZE_SETTINGS = ("session_units", "user_units", "embedding_size", "batch_size", "n_extra_negatives")


def training_bytes(config: TrainConfig, n_items: int) -> int:
    """Bytes training ``config`` on ``n_items`` items takes, about (see the module docstring)."""
    spec = config.network_spec(n_items)
    hs, hu, batch, extra = spec.session_units, spec.user_units, config.batch_size, config.n_extra_negatives
    item_tables = (n_items + 1) * (spec.item_in_width + hs + 1)
    dense = sum(math.prod(shape) for shape in spec.dense_shapes.values())
    step = (SCORE_COPIES * batch * (batch + extra) + 2 * extra * (hs + 1)
            + 8 * batch * (3 * hs + 3 * hu + spec.input_size))
    return FLOAT_BYTES * (ITEM_TABLE_COPIES * item_tables + DENSE_COPIES * dense + step)


def format_size(n_bytes: float) -> str:
    """``n_bytes`` in binary units: "512 MiB", "14 GiB", "12 TiB", "3.2 EiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024:
            return f"{n_bytes:,.0f} {unit}" if n_bytes >= 10 or unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:,.1f} EiB"


def _culprit(config: TrainConfig, n_items: int) -> str:
    """The size setting whose default lowers the estimate the most."""
    defaults = {info.name: info.default for info in settings_of(TrainConfig)}
    return min(SIZE_SETTINGS, key=lambda name: training_bytes(
        dataclasses.replace(config, **{name: min(getattr(config, name), defaults[name])}), n_items))


def check_training_memory(config: TrainConfig, n_items: int, model_label: str, budget: int | None = None) -> None:
    """ConfigError, naming the setting that makes it so and the estimate, when training ``config``
    on ``n_items`` items would exceed the memory budget (None: :func:`engine.memory.memory_budget`)."""
    budget = memory_budget() if budget is None else budget
    if budget is None:
        return
    needed = training_bytes(config, n_items)
    if needed <= budget:
        return
    name = _culprit(config, n_items)
    label = next(info.label for info in settings_of(TrainConfig) if info.name == name)
    raise ConfigError(f"{model_label} with {label} {getattr(config, name):,} would need about {format_size(needed)} "
                      f"of memory to train on {n_items:,} items; the memory budget is {format_size(budget)} (60% of "
                      f"this machine's memory, or {BUDGET_VARIABLE}): choose a smaller {label}",
                      setting=name, label=label)
