"""The import preview dialog: the file's first rows, the detected format preset and the column
mapping, all editable, and the name of the dataset to create."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import WorkbenchError
from engine.workbench.importing import FORMAT_PRESETS, ColumnMapping, ImportRequest, LogPreview, preview_log

log = logging.getLogger(__name__)

AUTO_PRESET = "Auto-detect"
NONE_COLUMN = "(none)"
ROLES = (("user", "User", True), ("item", "Item", False), ("time", "Time", False),
         ("session", "Session", True), ("event_type", "Event type", True))
TIME_UNITS = {"auto": "Auto (seconds, milliseconds or ISO)", "s": "Unix seconds", "ms": "Unix milliseconds",
              "iso": "ISO-8601 text"}


def describe_format(preview: LogPreview) -> str:
    file_format = preview.file_format
    parts = [file_format.kind]
    if file_format.delimiter:
        parts.append({"\t": "tab", ",": "comma", ";": "semicolon", " ": "space"}.get(file_format.delimiter,
                                                                                    repr(file_format.delimiter)))
    parts.append("header row" if file_format.has_header else "no header")
    if file_format.compression != "none":
        parts.append(file_format.compression)
    return ", ".join(parts)


class ImportDialog(QDialog):
    """Preview of one log file; ``request()`` is what to import once accepted."""

    def __init__(self, path: Path, preview: LogPreview, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.preview = preview
        self.setWindowTitle(f"Import {self.path.name}")
        self.resize(860, 560)
        self.preset_combo = QComboBox()
        self.preset_combo.addItem(AUTO_PRESET, None)
        for name, preset in FORMAT_PRESETS.items():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.format_label = QLabel()
        self.format_label.setObjectName("mutedLabel")
        self.role_combos: dict[str, QComboBox] = {role: QComboBox() for role, _, _ in ROLES}
        self.time_unit = QComboBox()
        for unit, text in TIME_UNITS.items():
            self.time_unit.addItem(text, unit)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("default: the file's name")
        self.skip_invalid = QCheckBox("Skip rows with a missing field or an unreadable time")
        self.rows_table = QTableWidget()
        self.rows_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rows_table.setAlternatingRowColors(True)
        self.rows_table.verticalHeader().setDefaultSectionSize(22)
        self.problem = QLabel("")
        self.problem.setObjectName("errorLabel")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        mapping_box = QGroupBox("Columns")
        mapping_form = QFormLayout(mapping_box)
        for role, label, _optional in ROLES:
            mapping_form.addRow(label, self.role_combos[role])
            self.role_combos[role].currentIndexChanged.connect(self._check)
        mapping_form.addRow("Time unit", self.time_unit)
        format_box = QGroupBox("Format")
        format_form = QFormLayout(format_box)
        format_form.addRow("Preset", self.preset_combo)
        format_form.addRow("Read as", self.format_label)
        format_form.addRow("Dataset name", self.name_edit)
        format_form.addRow("", self.skip_invalid)
        top = QHBoxLayout()
        top.addWidget(format_box, 1)
        top.addWidget(mapping_box, 1)
        layout = QVBoxLayout(self)
        header = QLabel(f"<b>{self.path.name}</b> — {self.path.parent}")
        header.setWordWrap(True)
        layout.addWidget(header)
        layout.addLayout(top)
        layout.addWidget(QLabel("First rows of the file"))
        layout.addWidget(self.rows_table, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._show_preview(preview)
        if preview.preset is not None:
            index = self.preset_combo.findData(preview.preset.name)
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(max(index, 0))
            self.preset_combo.blockSignals(False)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)

    def _show_preview(self, preview: LogPreview) -> None:
        self.preview = preview
        self.format_label.setText(describe_format(preview))
        frame = preview.rows
        columns = [str(c) for c in frame.columns]
        self.rows_table.setColumnCount(len(columns))
        self.rows_table.setRowCount(len(frame))
        self.rows_table.setHorizontalHeaderLabels(columns)
        for row, values in enumerate(frame.itertuples(index=False)):
            for column, value in enumerate(values):
                self.rows_table.setItem(row, column, QTableWidgetItem(str(value)))
        self.rows_table.resizeColumnsToContents()
        self._fill_mapping(columns, preview.mapping)

    def _fill_mapping(self, columns: list[str], mapping: ColumnMapping | None) -> None:
        for role, _label, _optional in ROLES:
            combo = self.role_combos[role]
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(NONE_COLUMN, None)
            for column in columns:
                combo.addItem(column, column)
            chosen = getattr(mapping, role) if mapping is not None else None
            if isinstance(chosen, tuple):
                combo.addItem(" + ".join(chosen), chosen)
            combo.setCurrentIndex(max(combo.findData(chosen), 0) if chosen is not None else 0)
            combo.blockSignals(False)
        unit = mapping.time_unit if mapping is not None else "auto"
        self.time_unit.setCurrentIndex(max(self.time_unit.findData(unit), 0))
        self._check()

    @Slot()
    def _on_preset_changed(self) -> None:
        try:
            self._show_preview(preview_log(self.path, self.preset_combo.currentData()))
        except WorkbenchError as exc:
            self.problem.setText(str(exc))
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)

    def mapping(self) -> ColumnMapping | None:
        """The mapping the combo boxes show, or None when it lacks a required column."""
        chosen = {role: self.role_combos[role].currentData() for role, _, _ in ROLES}
        if chosen["item"] is None or chosen["time"] is None or (chosen["user"] is None and chosen["session"] is None):
            return None
        return ColumnMapping(chosen["user"], chosen["item"], chosen["time"], chosen["session"],
                             chosen["event_type"], self.time_unit.currentData())

    @Slot()
    def _check(self) -> None:
        ok = self.mapping() is not None
        self.problem.setText("" if ok else "Choose the item and time columns, and a user or a session column.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def set_role(self, role: str, column: str | None) -> None:
        combo = self.role_combos[role]
        combo.setCurrentIndex(max(combo.findData(column), 0) if column is not None else 0)

    def request(self) -> ImportRequest:
        mapping = self.mapping()
        if mapping is None:
            raise ValueError("the column mapping is incomplete")
        return ImportRequest(self.path, preset=self.preset_combo.currentData(), mapping=mapping,
                             name=self.name_edit.text().strip() or None,
                             skip_invalid_rows=self.skip_invalid.isChecked())
