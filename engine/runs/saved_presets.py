"""Named hyper-parameter presets saved in the workspace (e.g. the best configuration of a search)."""
from __future__ import annotations

import dataclasses
from typing import Any

from engine.errors import InputError, NotFoundError
from engine.runs.models import MODELS, config_from_json, model_entry
from engine.storage import presets as store
from engine.storage.catalog import now_utc
from engine.storage.workspace import Workspace


def save_preset(workspace: Workspace, name: str, model: str, config: dict[str, Any], note: str | None = None) -> None:
    """Store ``config`` (validated) under ``name``; built-in preset names and existing names are refused."""
    model_entry(model)
    name = name.strip()
    builtin = {preset for entry in MODELS for preset in entry.presets}
    if not name or name in builtin:
        raise InputError(f"choose another preset name than {name!r} (built-in names: {', '.join(sorted(builtin))})")
    validated = dataclasses.asdict(config_from_json({**config, "model": model}))
    validated.pop("seed", None)
    if not store.add_saved_preset(workspace, name, model, validated, note, now_utc()):
        raise InputError(f"a preset named {name!r} already exists; choose another name")


def saved_preset(workspace: Workspace, name: str, model: str) -> dict[str, Any]:
    """The configuration saved as ``name`` for ``model``."""
    found = store.find_saved_preset(workspace, name)
    if found is None:
        raise NotFoundError(f"no saved preset named {name!r}")
    if found.model != model:
        raise InputError(f"preset {name!r} is for {found.model}, not {model}")
    return dict(found.config)


def list_saved_presets(workspace: Workspace, model: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, model, config) of the saved presets, oldest first."""
    return [(found.name, found.model, found.config) for found in store.list_saved_presets(workspace, model)]
