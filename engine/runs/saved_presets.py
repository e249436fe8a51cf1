"""Named hyper-parameter presets saved in the workspace (e.g. the best configuration of a search)."""
from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from engine.errors import InputError, NotFoundError
from engine.runs.models import MODELS, config_from_json, model_entry
from engine.storage.catalog import now_utc
from engine.storage.schema import SavedPreset
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
    with workspace.session() as session:
        if session.scalar(select(SavedPreset).where(SavedPreset.name == name)) is not None:
            raise InputError(f"a preset named {name!r} already exists; choose another name")
        session.add(SavedPreset(name=name, model=model, config=validated, note=note, created_at=now_utc()))


def saved_preset(workspace: Workspace, name: str, model: str) -> dict[str, Any]:
    """The configuration saved as ``name`` for ``model``."""
    with workspace.session() as session:
        row = session.scalar(select(SavedPreset).where(SavedPreset.name == name))
        if row is None:
            raise NotFoundError(f"no saved preset named {name!r}")
        if row.model != model:
            raise InputError(f"preset {name!r} is for {row.model}, not {model}")
        return dict(row.config)


def list_saved_presets(workspace: Workspace, model: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, model, config) of the saved presets, oldest first."""
    query = select(SavedPreset).order_by(SavedPreset.id)
    if model is not None:
        query = query.where(SavedPreset.model == model)
    with workspace.session() as session:
        return [(row.name, row.model, dict(row.config)) for row in session.scalars(query)]
