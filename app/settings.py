"""Choices remembered between launches (window layout, recent workspaces, panel choices), kept
in QSettings under the application's organisation and name."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "HRNN Workbench"
APPLICATION = "HRNN Workbench"
MAX_RECENT = 8


class AppSettings:
    """Typed access to the application's QSettings (the location QSettings' defaults give;
    tests point it at a temporary folder with ``QSettings.setPath``)."""

    def __init__(self) -> None:
        self._store = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    def value(self, key: str, default: Any, kind: type) -> Any:
        """The stored value converted to ``kind``, or ``default`` when absent or unreadable."""
        if not self._store.contains(key):
            return default
        try:
            return self._store.value(key, default, type=kind)
        except (TypeError, ValueError):
            return default

    def set_value(self, key: str, value: Any) -> None:
        self._store.setValue(key, value)

    def bytes_value(self, key: str) -> QByteArray | None:
        value = self._store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def recent_workspaces(self) -> list[str]:
        return [p for p in self.value("workspace/recent", [], list) if isinstance(p, str) and p]

    def add_recent_workspace(self, location: str) -> None:
        recent = [location] + [p for p in self.recent_workspaces() if p != location]
        self.set_value("workspace/recent", recent[:MAX_RECENT])
        self.set_value("workspace/last", location)

    def last_workspace(self) -> Path | None:
        last = self.value("workspace/last", "", str)
        return Path(last) if last else None

    def sync(self) -> None:
        self._store.sync()
