"""Planning runs: one queued run per model and seed, with its full configuration stored."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from engine.runs.models import build_config
from engine.runs.records import create_run
from engine.storage import catalog
from engine.storage.workspace import Workspace


def plan_runs(workspace: Workspace, dataset: str | int, model: str, seeds: Sequence[int], preset: str | None = None,
              overrides: dict[str, Any] | None = None, device: str = "auto", validation: bool = False,
              study: str | None = None) -> list[int]:
    """Create one queued run per seed; returns their ids. Every configuration is validated first,
    so a bad setting creates no run at all."""
    overrides = dict(overrides or {})
    configs = [build_config(model, preset, overrides if "device" not in _fields(model) else
                            {**overrides, "device": device}, seed) for seed in seeds]
    with workspace.session() as session:
        dataset_id = catalog.find_dataset(session, dataset).id
    return [create_run(workspace, dataset_id, model, dataclasses.asdict(config), config.seed,
                       preset=preset or ("default" if not _fields(model) else "small"),
                       validation=validation, study=study) for config in configs]


def _fields(model: str) -> set[str]:
    from engine.runs.models import NEURAL_MODELS
    from engine.training.config import TrainConfig

    return {field.name for field in dataclasses.fields(TrainConfig)} if model in NEURAL_MODELS else set()
