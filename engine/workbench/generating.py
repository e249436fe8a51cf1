"""Generating a seeded synthetic session log (``generate``): its configuration from a preset or a
size with changed settings, the file written, and the preparation settings its import starts from."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, cast

import pandas as pd

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import GENERATOR_PRESETS, SYNTHETIC_MAPPING, SyntheticConfig
from engine.errors import InputError

__all__ = ["GENERATOR_PRESETS", "SYNTHETIC_MAPPING", "SyntheticConfig", "generate_log_file", "import_settings",
           "synthetic_config", "write_log"]


def synthetic_config(preset: str | None, events: int | None, seed: int,
                     changes: dict[str, object] | None = None) -> SyntheticConfig:
    """The generator's settings: about ``events`` events, else the ``preset`` (default demo), with
    ``changes``; InputError naming a setting the generator does not have."""
    config = synthetic.scaled_config(events, seed) if events is not None else GENERATOR_PRESETS[preset or "demo"](seed)
    known = {field.name for field in dataclasses.fields(config)}
    unknown = set(changes or {}) - known
    if unknown:
        raise InputError(f"unknown generator settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(config, **cast(dict[str, Any], changes or {}))


def write_log(frame: pd.DataFrame, path: Path) -> None:
    """Write a generated log as Parquet or (optionally gzip'ed) CSV, by the file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def generate_log_file(config: SyntheticConfig, path: Path) -> int:
    """Generate the log of ``config`` into ``path`` (see :func:`write_log`); returns its number of events."""
    frame = synthetic.generate_log(config)
    write_log(frame, path)
    return len(frame)


def import_settings(preset: str | None) -> PrepareSettings:
    """The preparation settings a generated log is imported with (before the user's changes): the
    paper's, with the item support its preset's size needs (a log of a given size: 5)."""
    return PrepareSettings(min_item_support=synthetic.PRESET_MIN_ITEM_SUPPORT.get(preset or "", 5))
