"""The store of the user's saved presets: named configurations of a model (e.g. the best of a
search), as plain records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.storage.schema import SavedPreset
from engine.storage.workspace import Workspace


@dataclass(frozen=True)
class SavedPresetRecord:
    """A saved preset: its name, its model and the configuration it holds."""

    name: str
    model: str
    config: dict[str, Any]
    note: str | None = None


def add_saved_preset(workspace: Workspace, name: str, model: str, config: dict[str, Any], note: str | None,
                     created_at: datetime) -> bool:
    """Store a preset; False (and nothing stored) when one of that name exists."""
    with workspace.session() as session:
        if session.scalar(select(SavedPreset.id).where(SavedPreset.name == name)) is not None:
            return False
        session.add(SavedPreset(name=name, model=model, config=config, note=note, created_at=created_at))
    return True


def find_saved_preset(workspace: Workspace, name: str) -> SavedPresetRecord | None:
    """The preset saved as ``name``, or None."""
    with workspace.session() as session:
        row = session.scalar(select(SavedPreset).where(SavedPreset.name == name))
        return None if row is None else SavedPresetRecord(row.name, row.model, dict(row.config), row.note)


def list_saved_presets(workspace: Workspace, model: str | None = None) -> list[SavedPresetRecord]:
    """The saved presets (of one model), oldest first."""
    query = select(SavedPreset).order_by(SavedPreset.id)
    if model is not None:
        query = query.where(SavedPreset.model == model)
    with workspace.session() as session:
        return [SavedPresetRecord(row.name, row.model, dict(row.config), row.note) for row in session.scalars(query)]
