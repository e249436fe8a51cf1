"""The presets saved in a workspace (e.g. a study's best configuration, "Use as preset"), as the
shells offer them beside each model's built-in presets: the Training panel lists them in the
model's preset list, as ``train --preset NAME`` takes them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.progress import CancelToken, ProgressCallback
from engine.runs.saved_presets import list_saved_presets
from engine.storage.workspace import Workspace

__all__ = ["SavedPresetInfo", "load_saved_presets", "saved_presets"]


@dataclass(frozen=True)
class SavedPresetInfo:
    """A saved preset: its name, its model and its full configuration (every setting)."""

    name: str
    model: str
    config: dict[str, Any]


def saved_presets(workspace: Workspace) -> list[SavedPresetInfo]:
    """Every preset saved in the workspace, oldest first."""
    return [SavedPresetInfo(name, model, config) for name, model, config in list_saved_presets(workspace)]


def load_saved_presets(url: str, progress: ProgressCallback, cancel: CancelToken) -> list[SavedPresetInfo]:
    """:func:`saved_presets` of the workspace at ``url`` (a background job's work)."""
    with Workspace(url) as workspace:
        return saved_presets(workspace)
