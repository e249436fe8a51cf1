"""The import preview dialog: the file's first rows, the detected format preset and column mapping
(a role not detected stays open for the user to choose, the others keep their detected column),
the session and filter settings, and the name of the dataset to create. Impossible settings are
refused here, naming the field; an import refused for one of its fields comes back here with
that field marked."""
from __future__ import annotations

import logging
from collections.abc import Mapping
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

from app.jobs import Job, JobManager
from app.prepare_form import PrepareForm
from engine.errors import InputError, WorkbenchError
from engine.workbench.event_types import log_event_types
from engine.workbench.importing import (
    FORMAT_PRESETS,
    PREPARE_LABELS,
    SKIP_LABEL,
    SKIP_SETTING,
    ColumnMapping,
    ImportRequest,
    LogPreview,
    preview_log,
    settings_for,
)

log = logging.getLogger(__name__)

AUTO_PRESET = "Auto-detect"
NONE_COLUMN = "(none)"
ROLES = (("user", "User", True), ("item", "Item", False), ("time", "Time", False),
         ("session", "Session", True), ("event_type", "Event type", True))
ROLE_TIPS = {"user": "The column of user ids (or choose a session column for logs without users)",
             "item": "The column of item ids", "time": "The column of timestamps",
             "session": "The log's own session ids, if it has them", "event_type": "The kind of event (click, buy…)"}
TIME_UNITS = {"auto": "Auto (seconds, milliseconds or ISO)", "s": "Unix seconds", "ms": "Unix milliseconds",
              "iso": "ISO-8601 text"}


def describe_format(preview: LogPreview) -> str:
    file_format = preview.file_format
    parts = [file_format.kind]
    if file_format.delimiter:
        parts.append({"\t": "tab", ",": "comma", ";": "semicolon", " ": "space"}.get(file_format.delimiter,
                                                                                    repr(file_format.delimiter)))
    parts.append("header row" if file_format.has_header else "no header")
    if file_format.encoding != "utf-8":
        parts.append(file_format.encoding_name)
    if len(file_format.members) > 1:
        shown = ", ".join(file_format.members[:5]) + (", …" if len(file_format.members) > 5 else "")
        parts.append(f"zip of {len(file_format.members)} files ({shown})")
    elif file_format.compression != "none":
        parts.append(file_format.compression)
    return ", ".join(parts)


class ImportDialog(QDialog):
    """Preview of one log file; ``request()`` is what to import once accepted. ``request`` and
    ``error``: an earlier attempt to show again, with the field its refusal names marked."""

    def __init__(self, path: Path, preview: LogPreview, parent: QWidget | None = None,
                 request: ImportRequest | None = None, error: InputError | None = None,
                 jobs: JobManager | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self.preview = preview
        self._jobs = jobs
        self._event_types: dict[str, list[str]] = {}  # column -> the whole log's event types
        self._scanning: dict[str, Job] = {}
        self.setWindowTitle(f"Import {self.path.name}")
        self.resize(900, 660)
        self.preset_combo = QComboBox()
        self.preset_combo.addItem(AUTO_PRESET, None)
        for name, preset in FORMAT_PRESETS.items():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip("How to read a known public log format (detected when possible)")
        self.format_label = QLabel()
        self.format_label.setObjectName("mutedLabel")
        self.role_combos: dict[str, QComboBox] = {role: QComboBox() for role, _, _ in ROLES}
        for role, combo in self.role_combos.items():
            combo.setToolTip(ROLE_TIPS[role])
        self.time_unit = QComboBox()
        for unit, text in TIME_UNITS.items():
            self.time_unit.addItem(text, unit)
        self.time_unit.setToolTip("How the time column counts (auto: by the magnitude of its values)")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("default: the file's name")
        self.name_edit.setToolTip("The name of the dataset the import creates")
        self.skip_invalid = QCheckBox(f"{SKIP_LABEL} (a missing field or an unreadable time)")
        self.skip_invalid.setToolTip("Skip rows with an empty mapped field or an unreadable or implausible time "
                                     "instead of refusing the file (e.g. a truncated last line)")
        self.form = PrepareForm()
        self.form.changed.connect(self._check)
        self.rows_table = QTableWidget()
        self.rows_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rows_table.setAlternatingRowColors(True)
        self.rows_table.verticalHeader().setDefaultSectionSize(22)
        self.rows_table.setMinimumHeight(100)
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
            self.role_combos[role].currentIndexChanged.connect(self._on_mapping_changed)
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
        layout.addWidget(self.form)
        layout.addWidget(QLabel("First rows of the file"))
        layout.addWidget(self.rows_table, 1)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._show_preview(preview)
        self.form.apply(settings_for(preview.preset, None))
        if preview.preset is not None:
            index = self.preset_combo.findData(preview.preset.name)
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(max(index, 0))
            self.preset_combo.blockSignals(False)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        if request is not None:
            self._restore(request)
        if error is not None:
            self.show_error(error)

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
        self._fill_mapping(columns, preview.roles, preview.mapping.time_unit if preview.mapping else "auto")

    def _fill_mapping(self, columns: list[str], roles: Mapping[str, object], time_unit: str) -> None:
        for role, _label, _optional in ROLES:
            combo = self.role_combos[role]
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(NONE_COLUMN, None)
            for column in columns:
                combo.addItem(column, column)
            chosen = roles.get(role)
            if isinstance(chosen, tuple):
                combo.addItem(" + ".join(chosen), chosen)
            combo.setCurrentIndex(max(combo.findData(chosen), 0) if chosen is not None else 0)
            combo.blockSignals(False)
        self.time_unit.setCurrentIndex(max(self.time_unit.findData(time_unit), 0))
        self._on_mapping_changed()

    def _restore(self, request: ImportRequest) -> None:
        """Show an earlier attempt's choices."""
        if request.mapping is not None:
            roles = {role: getattr(request.mapping, role) for role, _, _ in ROLES}
            self._fill_mapping([str(c) for c in self.preview.rows.columns], roles, request.mapping.time_unit)
        if request.settings is not None:
            self.form.apply(request.settings)
        self.name_edit.setText(request.name or "")
        self.skip_invalid.setChecked(request.skip_invalid_rows)
        self._check()

    @Slot()
    def _on_preset_changed(self) -> None:
        try:
            preview = preview_log(self.path, self.preset_combo.currentData())
        except WorkbenchError as exc:
            self.problem.setText(str(exc))
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
            return
        self._show_preview(preview)
        self.form.apply(settings_for(preview.preset, None))
        self._check()

    @Slot()
    def _on_mapping_changed(self) -> None:
        """Offer the log's event types for dropping: those of the first rows at once, every type of
        the whole log once a background job has read its event-type column."""
        column = self.role_combos["event_type"].currentData()
        types: list[str] = []
        pending = False
        if isinstance(column, str) and column in self._event_types:
            types = self._event_types[column]
        elif isinstance(column, str) and column in self.preview.rows.columns:
            types = sorted({str(value) for value in self.preview.rows[column].dropna()})
            pending = self._scan_event_types(column)
        self.form.set_event_types(types, self.role_combos["session"].currentData() is not None, pending)
        self._check()

    def _scan_event_types(self, column: str) -> bool:
        """Read the whole log's event types of ``column`` in the background; whether it is under way."""
        if self._jobs is None:
            return False
        if column not in self._scanning:
            job = self._jobs.submit_in_process(f"Reading the event types of {self.path.name}", log_event_types,
                                               (self.path, self.preview.file_format, column), visible=False)
            job.setProperty("column", column)
            job.succeeded.connect(self._on_event_types)
            job.failed.connect(self._on_event_types_failed)
            self._scanning[column] = job
        return self._scanning[column].running

    @Slot(object)
    def _on_event_types(self, types: list[str]) -> None:
        job = self.sender()
        column = job.property("column") if job is not None else None
        if not isinstance(column, str):
            return
        self._event_types[column] = types
        if self.role_combos["event_type"].currentData() == column:
            self.form.set_event_types(types, self.role_combos["session"].currentData() is not None)
            self._check()

    @Slot(object)
    def _on_event_types_failed(self, error: Exception) -> None:
        log.info("event types not read: %s", error)
        column = self.role_combos["event_type"].currentData()
        if isinstance(column, str) and column in self.preview.rows.columns:
            types = sorted({str(value) for value in self.preview.rows[column].dropna()})
            self.form.set_event_types(types, self.role_combos["session"].currentData() is not None)

    def stop_jobs(self) -> None:
        """Stop reading the log's event types (the dialog is going away)."""
        for job in self._scanning.values():
            job.discard()

    def mapping(self) -> ColumnMapping | None:
        """The mapping the combo boxes show, or None when it lacks a required column."""
        chosen = {role: self.role_combos[role].currentData() for role, _, _ in ROLES}
        if chosen["item"] is None or chosen["time"] is None or (chosen["user"] is None and chosen["session"] is None):
            return None
        return ColumnMapping(chosen["user"], chosen["item"], chosen["time"], chosen["session"],
                             chosen["event_type"], self.time_unit.currentData())

    def field_label(self, setting: str | None) -> str | None:
        """The label of the field a refusal's ``setting`` names (None: no field of this dialog)."""
        if setting in PREPARE_LABELS:
            return PREPARE_LABELS[setting]
        if setting == SKIP_SETTING:
            return SKIP_LABEL
        role = (setting or "").removesuffix("_column")
        return next((label for name, label, _ in ROLES if name == role), None)

    def _mark(self, setting: str | None) -> None:
        self.form.mark_invalid(setting if setting in PREPARE_LABELS else None)
        for widget, name in [(self.skip_invalid, SKIP_SETTING),
                             *((combo, f"{role}_column") for role, combo in self.role_combos.items())]:
            invalid = name == setting
            if bool(widget.property("invalid")) != invalid:
                widget.setProperty("invalid", invalid)
                widget.style().unpolish(widget)
                widget.style().polish(widget)

    def show_error(self, error: InputError) -> None:
        """Show why the last attempt was refused, naming and marking the field to change."""
        label = self.field_label(error.setting)
        hint = f" Change “{label}” and import again." if label else ""
        self.problem.setText(f"{str(error).rstrip('.')}.{hint}")
        self._mark(error.setting)

    @Slot()
    def _check(self) -> None:
        """Refuse impossible choices, naming the field (an earlier refusal goes with the first edit)."""
        problem: str | None = None
        setting: str | None = None
        if self.mapping() is None:
            missing = [role for role in ("item", "time") if self.role_combos[role].currentData() is None]
            if self.role_combos["user"].currentData() is None and self.role_combos["session"].currentData() is None:
                missing.insert(0, "user")
            setting = f"{missing[0]}_column" if missing else None
            problem = "Choose the item and time columns, and a user or a session column."
        else:
            refusal = self.form.problem()
            if refusal is not None:
                problem, setting = str(refusal), refusal.setting
        self.problem.setText(problem or "")
        self._mark(setting)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def set_role(self, role: str, column: str | None) -> None:
        combo = self.role_combos[role]
        combo.setCurrentIndex(max(combo.findData(column), 0) if column is not None else 0)

    def request(self) -> ImportRequest:
        mapping = self.mapping()
        if mapping is None:
            raise ValueError("the column mapping is incomplete")
        return ImportRequest(self.path, preset=self.preset_combo.currentData(), mapping=mapping,
                             settings=self.form.settings(), name=self.name_edit.text().strip() or None,
                             skip_invalid_rows=self.skip_invalid.isChecked())
