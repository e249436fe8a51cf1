"""The session and filter settings of a dataset (the engine's ``PrepareSettings``) as a form, shared
by the import dialog and the threshold explorer: the idle threshold with its unit, the log's own
sessions, event types to drop, repeats, and the filters in the paper's order. Every field's label,
tooltip and lower bound are the setting's declaration (:func:`engine.registry.settings.settings_of`),
so that the engine's refusals name the fields the user sees and nothing drifts."""
from __future__ import annotations

import logging

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from engine.errors import InputError
from engine.registry.settings import SettingInfo, settings_of
from engine.workbench.importing import PREPARE_LABELS, PrepareSettings

log = logging.getLogger(__name__)

UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0}
SPIN_WIDTH = 110
EVENT_TYPES_PER_ROW = 4
#: The spin boxes' upper ends (the declarations leave the counts unbounded).
COUNT_MAX = 1_000_000_000
#: Each preparation setting's declaration: its label, help and bounds.
SETTINGS: dict[str, SettingInfo] = {info.name: info for info in settings_of(PrepareSettings)}


def tip(name: str) -> str:
    """A field's tooltip: the setting's declared help and its valid values."""
    info = SETTINGS[name]
    return f"{info.help} ({info.range_text()})"


def unit_for(seconds: float) -> str:
    """The unit a threshold reads best in."""
    return "h" if seconds >= 3600 * 3 else "min" if seconds >= 60 else "s"


class PrepareForm(QWidget):
    """Editors for every preparation setting in two boxes (sessions; filters); ``changed`` on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setRange(0.01, 100_000.0)  # the declared bound is open: greater than 0
        self.threshold_spin.setValue(30.0)
        self.threshold_spin.setMaximumWidth(SPIN_WIDTH)
        self.unit_combo = QComboBox()
        self.unit_combo.addItems(list(UNITS_S))
        self.unit_combo.setCurrentText("min")
        self._unit = "min"
        self.use_given_sessions = QCheckBox(PREPARE_LABELS["use_given_sessions"])
        self.drop_repeats = QCheckBox(f"{PREPARE_LABELS['drop_repeats']} of an item in a session")
        self.repeat_until_stable = QCheckBox(PREPARE_LABELS["repeat_until_stable"])
        self.min_item_support = self._spin("min_item_support")
        self.min_session_length = self._spin("min_session_length")
        self.min_user_sessions = self._spin("min_user_sessions")
        self.max_user_sessions = self._spin("max_user_sessions")
        self.max_user_sessions.setSpecialValueText("no limit")  # its least value stands for None
        self._event_types_box = QWidget()
        self._event_types_layout = QGridLayout(self._event_types_box)
        self._event_types_layout.setContentsMargins(0, 0, 0, 0)
        self.event_type_checks: list[QCheckBox] = []
        self._wanted_drops: set[str] = set()
        self.fields: dict[str, QWidget] = {
            "session_threshold_s": self.threshold_spin, "use_given_sessions": self.use_given_sessions,
            "drop_event_types": self._event_types_box, "drop_repeats": self.drop_repeats,
            "min_item_support": self.min_item_support, "min_session_length": self.min_session_length,
            "min_user_sessions": self.min_user_sessions, "max_user_sessions": self.max_user_sessions,
            "repeat_until_stable": self.repeat_until_stable,
        }
        for name, widget in self.fields.items():
            widget.setToolTip(tip(name))
        self.unit_combo.setToolTip(tip("session_threshold_s"))
        self.threshold_spin.valueChanged.connect(self._emit_changed)
        self.unit_combo.currentTextChanged.connect(self._on_unit_changed)
        for check in (self.use_given_sessions, self.drop_repeats, self.repeat_until_stable):
            check.toggled.connect(self._emit_changed)

        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_spin)
        threshold_row.addWidget(self.unit_combo)
        threshold_row.addStretch(1)
        self.sessions_box = QGroupBox("Sessions")
        sessions_form = QFormLayout(self.sessions_box)
        sessions_form.addRow(PREPARE_LABELS["session_threshold_s"], threshold_row)
        sessions_form.addRow(self.use_given_sessions)
        sessions_form.addRow(PREPARE_LABELS["drop_event_types"], self._event_types_box)
        sessions_form.addRow(self.drop_repeats)
        self.filters_box = QGroupBox("Filters (in the paper's order)")
        filters_form = QFormLayout(self.filters_box)
        for name in ("min_item_support", "min_session_length", "min_user_sessions", "max_user_sessions"):
            filters_form.addRow(PREPARE_LABELS[name], self.fields[name])
        filters_form.addRow(self.repeat_until_stable)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sessions_box, 1)
        layout.addWidget(self.filters_box, 1)
        self.set_event_types([])

    def _spin(self, name: str) -> QSpinBox:
        """A count's spin box from its declaration: from its lower bound (an optional count starts one
        below, its "none")."""
        info = SETTINGS[name]
        low = int(info.low) if info.low is not None else 0
        spin = QSpinBox()
        spin.setRange(low - 1 if info.optional else low, int(min(info.high, COUNT_MAX)) if info.high is not None
                      else COUNT_MAX)
        spin.setKeyboardTracking(False)
        spin.setMaximumWidth(SPIN_WIDTH)
        spin.valueChanged.connect(self._emit_changed)
        return spin

    @Slot()
    def _emit_changed(self) -> None:
        self.changed.emit()

    @Slot(str)
    def _on_unit_changed(self, unit: str) -> None:
        seconds = self.threshold_spin.value() * UNITS_S[self._unit]
        self._unit = unit
        self.threshold_spin.blockSignals(True)
        self.threshold_spin.setValue(seconds / UNITS_S[unit])
        self.threshold_spin.blockSignals(False)

    # ----- values -----
    def set_event_types(self, names: list[str], session_column: bool = True, pending: bool = False) -> None:
        """The log's event types to offer for dropping (checked: those the settings drop) and
        whether the log has a session column of its own; ``pending``: the whole log's types are
        being read (``names`` are those of its first rows)."""
        wanted = {check.text() for check in self.event_type_checks if check.isChecked()} | self._wanted_drops
        for check in self.event_type_checks:
            check.deleteLater()
        self.event_type_checks = []
        for index, name in enumerate(names if len(names) > 1 else []):
            check = QCheckBox(name)
            check.setChecked(name in wanted)
            check.toggled.connect(self._emit_changed)
            self._event_types_layout.addWidget(check, *divmod(index, EVENT_TYPES_PER_ROW))
            self.event_type_checks.append(check)
        if len(names) <= 1:
            note = QCheckBox("(reading the log's event types…)" if pending else "(one event type)")
            note.setEnabled(False)
            self._event_types_layout.addWidget(note, 0, 0)
            self.event_type_checks.append(note)
        self.use_given_sessions.setEnabled(session_column)
        if not session_column:
            self.use_given_sessions.setChecked(False)

    def threshold_seconds(self) -> float:
        return self.threshold_spin.value() * UNITS_S[self.unit_combo.currentText()]

    def set_threshold_seconds(self, seconds: float, unit: str | None = None) -> None:
        """Show a threshold (in ``unit``, default the one it reads best in) without announcing it."""
        unit = unit or unit_for(seconds)
        for widget in (self.unit_combo, self.threshold_spin):
            widget.blockSignals(True)
        self.unit_combo.setCurrentText(unit)
        self._unit = unit
        self.threshold_spin.setValue(seconds / UNITS_S[unit])
        for widget in (self.unit_combo, self.threshold_spin):
            widget.blockSignals(False)

    def apply(self, settings: PrepareSettings) -> None:
        """Show ``settings`` (without announcing a change)."""
        widgets = [*self.fields.values(), self.unit_combo]
        for widget in widgets:
            widget.blockSignals(True)
        self.set_threshold_seconds(settings.session_threshold_s)
        self.min_item_support.setValue(settings.min_item_support)
        self.min_session_length.setValue(settings.min_session_length)
        self.min_user_sessions.setValue(settings.min_user_sessions)
        self.max_user_sessions.setValue(settings.max_user_sessions or self.max_user_sessions.minimum())
        self.drop_repeats.setChecked(settings.drop_repeats)
        self.repeat_until_stable.setChecked(settings.repeat_until_stable)
        self.use_given_sessions.setChecked(settings.use_given_sessions)
        self._wanted_drops = set(settings.drop_event_types)
        for check in self.event_type_checks:
            check.blockSignals(True)
            check.setChecked(check.text() in self._wanted_drops)
            check.blockSignals(False)
        for widget in widgets:
            widget.blockSignals(False)
        self.mark_invalid(None)

    def settings(self) -> PrepareSettings:
        """The settings the form shows; InputError (naming the setting) when they are inconsistent."""
        return PrepareSettings(
            session_threshold_s=self.threshold_seconds(),
            use_given_sessions=self.use_given_sessions.isChecked(),
            drop_event_types=tuple(c.text() for c in self.event_type_checks if c.isChecked() and c.isEnabled()),
            drop_repeats=self.drop_repeats.isChecked(),
            min_item_support=self.min_item_support.value(),
            min_session_length=self.min_session_length.value(),
            min_user_sessions=self.min_user_sessions.value(),
            max_user_sessions=(self.max_user_sessions.value()
                               if self.max_user_sessions.value() > self.max_user_sessions.minimum() else None),
            repeat_until_stable=self.repeat_until_stable.isChecked(),
        )

    def problem(self) -> InputError | None:
        """Why the settings shown cannot be used (the field is marked), or None."""
        try:
            self.settings()
        except InputError as exc:
            self.mark_invalid(exc.setting)
            return exc
        self.mark_invalid(None)
        return None

    def mark_invalid(self, setting: str | None) -> None:
        """Outline the field of ``setting`` (None: no field) as the one to change."""
        for name, widget in self.fields.items():
            invalid = name == setting
            if bool(widget.property("invalid")) != invalid:
                widget.setProperty("invalid", invalid)
                widget.style().unpolish(widget)
                widget.style().polish(widget)

    def set_enabled(self, enabled: bool) -> None:
        for widget in (*self.fields.values(), self.unit_combo):
            if widget is not self.use_given_sessions:
                widget.setEnabled(enabled)
