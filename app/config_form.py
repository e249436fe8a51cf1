"""A form generated from a configuration dataclass: Literal fields become combo boxes, bool
check boxes, int spin boxes and float double spin boxes; the field's source comment is its tooltip."""
from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any, Literal

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSpinBox, QWidget

_FIELD_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+)$")
INT_MAX = 1_000_000_000


def field_comments(config_type: type) -> dict[str, str]:
    """The trailing ``# comment`` of each field in the dataclass's source (empty when unavailable)."""
    try:
        source = inspect.getsource(config_type)
    except (OSError, TypeError):
        return {}
    return {match.group(1): match.group(2).strip() for match in map(_FIELD_COMMENT.match, source.splitlines()) if match}


#: Words shown in capitals in field labels.
ACRONYMS = {"cuda": "CUDA", "bpr": "BPR", "knn": "KNN", "gpu": "GPU"}


def field_label(name: str) -> str:
    """``bpr_max_reg`` -> "BPR max reg", ``n_extra_negatives`` -> "N extra negatives"."""
    words = name.split("_")
    words[0] = words[0].capitalize()
    return " ".join(ACRONYMS.get(word.lower(), word) for word in words)


class ConfigForm(QWidget):
    """Editors for the fields of ``config_type`` (except ``exclude``), laid out in ``columns`` columns."""

    changed = Signal()

    def __init__(self, config_type: type, exclude: set[str] | frozenset[str] = frozenset(), columns: int = 2,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        hints = typing.get_type_hints(config_type)
        comments = field_comments(config_type)
        self.editors: dict[str, QWidget] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        fields = [f for f in dataclasses.fields(config_type) if f.name not in exclude]
        rows = (len(fields) + columns - 1) // columns
        for index, field in enumerate(fields):
            editor = self._editor(hints[field.name])
            editor.setObjectName(f"field_{field.name}")
            if field.name in comments:
                editor.setToolTip(comments[field.name])
            label = QLabel(field_label(field.name))
            label.setToolTip(editor.toolTip())
            column, row = divmod(index, rows)
            grid.addWidget(label, row, 2 * column)
            grid.addWidget(editor, row, 2 * column + 1)
            self.editors[field.name] = editor
            if field.default is not dataclasses.MISSING:
                self._set(editor, field.default)
        for column in range(columns):
            grid.setColumnStretch(2 * column + 1, 1)

    def _editor(self, hint: Any) -> QWidget:
        if typing.get_origin(hint) is Literal:
            combo = QComboBox()
            combo.addItems([str(choice) for choice in typing.get_args(hint)])
            combo.currentIndexChanged.connect(self._emit_changed)
            return combo
        if hint is bool:
            check = QCheckBox()
            check.toggled.connect(self._emit_changed)
            return check
        if hint is int:
            spin = QSpinBox()
            spin.setRange(0, INT_MAX)
            spin.valueChanged.connect(self._emit_changed)
            return spin
        if hint is float:
            double = QDoubleSpinBox()
            double.setDecimals(4)
            double.setRange(0.0, 1e6)
            double.setSingleStep(0.01)
            double.valueChanged.connect(self._emit_changed)
            return double
        raise TypeError(f"no form editor for a field of type {hint!r}")

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
        return editor.value()  # type: ignore[attr-defined]

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
