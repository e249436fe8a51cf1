"""Planning runs: one queued run per model and seed, with its full configuration stored."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from engine.runs.models import build_config, model_entry, presets_for
from engine.runs.records import create_run
from engine.runs.run_memory import check_training_memory
from engine.runs.saved_presets import saved_preset
from engine.storage import catalog
from engine.storage.workspace import Workspace
from engine.training.config import TrainConfig


def plan_runs(workspace: Workspace, dataset: str | int, model: str, seeds: Sequence[int], preset: str | None = None,
              overrides: dict[str, Any] | None = None, device: str = "auto", validation: bool = False,
              study: str | None = None) -> list[int]:
    """Create one queued run per seed; returns their ids. ``preset``: a built-in preset of the model
    ("small" by default, "large"), or the name of a saved preset. Every configuration is validated
    first, and a network's memory estimated against the budget, so a bad setting creates no run
    at all."""
    overrides = dict(overrides or {})
    if model_entry(model).neural:
        overrides.setdefault("device", device)
    preset = preset or presets_for(model)[0]
    saved = None if preset in presets_for(model) else saved_preset(workspace, preset, model)
    configs = [build_config(model, preset, overrides, seed, saved) for seed in seeds]
    found = catalog.get_dataset(workspace, dataset)
    dataset_id, n_items = found.id, int(found.statistics.get("items", 0))
    for config in configs[:1]:  # the seed changes nothing of the size
        if isinstance(config, TrainConfig):
            check_training_memory(config, n_items, model_entry(model).label)
    return [create_run(workspace, dataset_id, model, dataclasses.asdict(config), config.seed, preset=preset,
                       validation=validation, study=study) for config in configs]
