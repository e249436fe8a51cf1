"""A form generated from a configuration dataclass's declared settings (see
:mod:`engine.registry.settings`): choices become combo boxes, booleans check boxes, integers spin
boxes and numbers double spin boxes, within the setting's valid range; the label is the setting's
label and the tooltip its help."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSpinBox, QWidget

from engine.registry.settings import SettingInfo, settings_of

INT_MAX = 1_000_000_000
FLOAT_MAX = 1e6


class ConfigForm(QWidget):
    """Editors for the declared settings of ``config_type`` (except hidden ones and ``exclude``),
    laid out in ``columns`` columns."""

    changed = Signal()

    def __init__(self, config_type: type, exclude: set[str] | frozenset[str] = frozenset(), columns: int = 2,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, str] = {}
        self.label_widgets: dict[str, QLabel] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        shown = [info for info in settings_of(config_type) if not info.hidden and info.name not in exclude]
        rows = max(1, (len(shown) + columns - 1) // columns)
        for index, info in enumerate(shown):
            editor = self._editor(info)
            editor.setObjectName(f"field_{info.name}")
            editor.setToolTip(f"{info.help} ({info.range_text()})")
            label = QLabel(info.label)
            label.setWordWrap(True)  # a long label takes two lines rather than widening the column
            label.setToolTip(editor.toolTip())
            column, row = divmod(index, rows)
            grid.addWidget(label, row, 2 * column)
            grid.addWidget(editor, row, 2 * column + 1)
            self.editors[info.name] = editor
            self.labels[info.name] = info.label
            self.label_widgets[info.name] = label
            self._set(editor, info.default)
        for column in range(columns):
            grid.setColumnStretch(2 * column + 1, 1)

    def _editor(self, info: SettingInfo) -> QWidget:
        allowed = info.allowed()
        if allowed is not None:
            combo = QComboBox()
            combo.addItems([str(choice) for choice in allowed])
            combo.currentIndexChanged.connect(self._emit_changed)
            return combo
        if info.kind is bool:
            check = QCheckBox()
            check.toggled.connect(self._emit_changed)
            return check
        if info.kind is int:
            spin = QSpinBox()
            spin.setRange(int(info.low) if info.low is not None else 0,
                          int(min(info.high, INT_MAX)) if info.high is not None else INT_MAX)
            spin.valueChanged.connect(self._emit_changed)
            return spin
        if info.kind is float:
            double = QDoubleSpinBox()
            double.setDecimals(4)
            double.setRange(float(info.low) if info.low is not None else 0.0,
                            float(min(info.high, FLOAT_MAX)) if info.high is not None else FLOAT_MAX)
            double.setSingleStep(0.01)
            double.valueChanged.connect(self._emit_changed)
            return double
        raise TypeError(f"no form editor for the setting {info.name!r} of kind {info.kind!r}")

    @Slot()
    def _emit_changed(self) -> None:
        self.changed.emit()

    @staticmethod
    def _set(editor: QWidget, value: Any) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            editor.setValue(value)

    @staticmethod
    def _get(editor: QWidget) -> Any:
        if isinstance(editor, QComboBox):
            return editor.currentText()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        assert isinstance(editor, (QSpinBox, QDoubleSpinBox))
        return editor.value()

    def set_values(self, values: dict[str, Any]) -> None:
        """Show ``values`` (keys that are not fields of the form are ignored), emitting ``changed`` once."""
        self.blockSignals(True)
        for name, value in values.items():
            if name in self.editors:
                self._set(self.editors[name], value)
        self.blockSignals(False)
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        return {name: self._get(editor) for name, editor in self.editors.items()}

    def set_read_only(self, read_only: bool) -> None:
        for editor in self.editors.values():
            editor.setEnabled(not read_only)

    def mark_changed(self, names: set[str] | frozenset[str]) -> None:
        """Write the labels of the settings ``names`` (those changed from a preset) in bold."""
        for name, label in self.label_widgets.items():
            font = label.font()
            if font.bold() != (name in names):
                font.setBold(name in names)
                label.setFont(font)

    def mark_invalid(self, name: str | None) -> None:
        """Outline the editor of setting ``name`` (None: none) as the one to change."""
        for setting, editor in self.editors.items():
            invalid = setting == name
            if bool(editor.property("invalid")) != invalid:
                editor.setProperty("invalid", invalid)
                editor.style().unpolish(editor)
                editor.style().polish(editor)
