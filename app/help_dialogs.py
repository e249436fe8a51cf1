"""Help: the user guide (docs/user-guide.md, shown in the app) and About (the version, and the
licences of the libraries the app ships with, read from their installed metadata)."""
from __future__ import annotations

import logging
import platform
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

USER_GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"
DISTRIBUTION = "hrnn-workbench"
#: The libraries the app depends on (the distributions' names).
DEPENDENCIES = ("PySide6-Essentials", "pyqtgraph", "torch", "numpy", "pandas", "pyarrow", "scipy", "SQLAlchemy",
                "alembic", "platformdirs")
#: Their licences where the installed metadata does not say (SPDX names).
KNOWN_LICENCES = {"PySide6-Essentials": "LGPL-3.0-only", "pyqtgraph": "MIT", "torch": "BSD-3-Clause",
                  "numpy": "BSD-3-Clause", "pandas": "BSD-3-Clause", "pyarrow": "Apache-2.0",
                  "scipy": "BSD-3-Clause", "SQLAlchemy": "MIT", "alembic": "MIT", "platformdirs": "MIT"}


def application_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _field(meta: metadata.PackageMetadata, name: str) -> str | None:
    """A metadata field's first value, None where the distribution does not declare it."""
    values = meta.get_all(name)
    return str(values[0]) if values else None


def _text(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def licence_of(distribution: str) -> str:
    """The licence an installed distribution declares (its SPDX expression, its License field or
    its licence classifiers), else the one known for it."""
    try:
        meta = metadata.metadata(distribution)
    except metadata.PackageNotFoundError:
        return KNOWN_LICENCES.get(distribution, "unknown")
    expression = _field(meta, "License-Expression")
    if expression:
        return str(expression)
    declared = (_field(meta, "License") or "").strip()
    if declared and "\n" not in declared and len(declared) <= 60:
        return declared
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return ", ".join(classifiers)
    return KNOWN_LICENCES.get(distribution, "see the package")


def dependency_rows() -> list[tuple[str, str, str]]:
    """(library, installed version, licence) of each dependency."""
    rows = []
    for name in DEPENDENCIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append((name, version, licence_of(name)))
    return rows


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About HRNN Workbench")
        self.resize(560, 460)
        heading = QLabel(f"<h3>HRNN Workbench {application_version()}</h3>"
                         "<p>Does personalizing a session-based recommender with the user's past sessions pay off "
                         "on your log? The Hierarchical RNN of Quadrana, Karatzoglou, Hidasi and Cremonesi "
                         "(RecSys 2017) against its session-only twin and strong simple baselines.</p>"
                         f"<p>Python {platform.python_version()}, Qt {qVersion()}, PySide6 {pyside_version}.</p>"
                         "<p>The libraries it uses, with their licences:</p>")
        heading.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Library", "Version", "Licence"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, cells in enumerate(dependency_rows()):
            self.table.insertRow(row)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def licences(self) -> dict[str, str]:
        return {_text(self.table, row, 0): _text(self.table, row, 2) for row in range(self.table.rowCount())}


class UserGuideDialog(QDialog):
    """docs/user-guide.md, rendered."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("HRNN Workbench — User guide")
        self.resize(760, 620)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        try:
            self.browser.setMarkdown(USER_GUIDE.read_text(encoding="utf-8"))
        except OSError as exc:
            log.warning("user guide not found: %s", exc)
            self.browser.setPlainText(f"The user guide ({USER_GUIDE}) is not there: {exc.strerror}.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
