"""Choosing models and their settings, generic over the model registry: every registered model is
listed (whatever its kind) and gets a form generated from its declared settings. Each model keeps
its own preset; "Custom" starts from the preset shown and changes only the fields the user edits,
which the runs then record as changes from that preset ("HRNN Init, small, epochs=2")."""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.config_form import ConfigForm
from engine.errors import ConfigError, WorkbenchError
from engine.workbench.saved_presets import SavedPresetInfo
from engine.workbench.training import MODELS, RunPlan, model_entry, validate_plans

log = logging.getLogger(__name__)

CUSTOM = "custom"
LIST_ROWS = 8  # model rows shown before the list scrolls
NAME_ROLE = Qt.ItemDataRole.UserRole


class CurrentPageStack(QStackedWidget):
    """A stack as large as the page shown (a QStackedWidget asks for room for its largest page, so
    that once a wide form was shown every model's settings would clip)."""

    def sizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.sizeHint() if current is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.minimumSizeHint() if current is not None else super().minimumSizeHint()


class ModelSettings(QWidget):
    """The model list (checked: trained) and the settings of the model selected in it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._preset: dict[str, str] = {}  # model -> preset name or CUSTOM
        self._base: dict[str, str] = {}  # model -> the preset a custom configuration starts from
        self._saved: dict[str, dict[str, dict[str, Any]]] = {}  # model -> saved preset name -> configuration
        self._wanted: dict[str, str] = {}  # model -> a saved preset remembered before the saved ones were read
        self.forms: dict[str, ConfigForm] = {}
        self.model_list = QListWidget()
        for entry in MODELS:
            item = QListWidgetItem(entry.label)
            item.setData(NAME_ROLE, entry.name)
            item.setToolTip(f"{entry.description} ({'network' if entry.neural else 'baseline'}). Check to train it; "
                            "select it to see its settings.")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.model_list.addItem(item)
        self.model_list.setMaximumHeight(self.model_list.sizeHintForRow(0) * min(LIST_ROWS, len(MODELS)) + 6)
        self.model_list.setToolTip("Check the models to train; select one to see and change its settings")
        self.model_list.itemChanged.connect(self._on_item_changed)
        self.model_list.currentItemChanged.connect(self._on_current_changed)
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("The model's named settings (the paper's Table 2 presets for the networks); "
                                     "Custom changes some of them")
        self.preset_combo.activated.connect(self._on_preset_chosen)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the preset's values")
        self.reset_button.clicked.connect(self._reset)
        self.caption = QLabel("")
        self.caption.setObjectName("mutedLabel")
        self.caption.setWordWrap(True)
        self.stack = CurrentPageStack()
        self.stack.currentChanged.connect(self._on_page_changed)
        preset_row = QHBoxLayout()
        preset_row.addWidget(QLabel("Preset"))
        preset_row.addWidget(self.preset_combo, 1)
        preset_row.addWidget(self.reset_button)
        self.settings_box = QGroupBox("Settings")
        box_layout = QVBoxLayout(self.settings_box)
        box_layout.addLayout(preset_row)
        box_layout.addWidget(self.caption)
        box_layout.addWidget(self.stack)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.model_list)
        layout.addWidget(self.settings_box)
        self.model_list.setCurrentRow(0, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    @Slot()
    def _on_page_changed(self) -> None:
        for index in range(self.stack.count()):
            page = self.stack.widget(index)
            if page is not None:
                shown = page is self.stack.currentWidget()
                page.setSizePolicy(QSizePolicy.Policy.Preferred if shown else QSizePolicy.Policy.Ignored,
                                   QSizePolicy.Policy.Preferred if shown else QSizePolicy.Policy.Ignored)
        self.stack.updateGeometry()

    # ----- models -----
    def _items(self) -> list[QListWidgetItem]:
        return [self.model_list.item(i) for i in range(self.model_list.count())]

    def checked_models(self) -> list[str]:
        return [item.data(NAME_ROLE) for item in self._items() if item.checkState() == Qt.CheckState.Checked]

    def set_checked_models(self, models: list[str]) -> None:
        self.model_list.blockSignals(True)
        for item in self._items():
            item.setCheckState(Qt.CheckState.Checked if item.data(NAME_ROLE) in models else Qt.CheckState.Unchecked)
        self.model_list.blockSignals(False)
        self.changed.emit()

    def current_model(self) -> str:
        item = self.model_list.currentItem()
        return item.data(NAME_ROLE) if item is not None else MODELS.names()[0]

    def show_model(self, model: str) -> None:
        """Select ``model`` in the list: its settings are shown."""
        for row, item in enumerate(self._items()):
            if item.data(NAME_ROLE) == model:
                self.model_list.setCurrentRow(row)
                return

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.CheckState.Checked:
            self.show_model(item.data(NAME_ROLE))
        self.changed.emit()

    @Slot()
    def _on_current_changed(self) -> None:
        model = self.current_model()
        form = self.form(model)
        self.stack.setCurrentWidget(form)
        entry = model_entry(model)
        self.settings_box.setTitle(f"Settings of {entry.label}")
        self.preset_combo.clear()
        for name in entry.presets:
            self.preset_combo.addItem(name, name)
        for name in self._saved.get(model, {}):
            self.preset_combo.addItem(f"{name} (saved)", name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, "A preset saved in this workspace (e.g. "
                                          "a study's best configuration)", Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.addItem("Custom", CUSTOM)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(self.preset(model)))
        self.preset_combo.setEnabled(bool(form.editors) or len(entry.presets) > 1)
        self._update_caption()

    # ----- presets and forms -----
    def form(self, model: str) -> ConfigForm:
        """The settings form of ``model`` (made the first time it is needed, showing its preset)."""
        if model not in self.forms:
            form = ConfigForm(model_entry(model).config_type, columns=1)
            form.set_values(self._preset_values(model, self.base_preset(model)))
            form.set_read_only(True)
            form.changed.connect(self._on_form_changed)
            self.forms[model] = form
            self.stack.addWidget(form)
        return self.forms[model]

    def preset(self, model: str) -> str:
        """The model's preset name, or ``"custom"``."""
        return self._preset.get(model, model_entry(model).default_preset)

    def base_preset(self, model: str) -> str:
        """The preset the model's settings start from (a custom one's too)."""
        preset = self.preset(model)
        return self._base.get(model, model_entry(model).default_preset) if preset == CUSTOM else preset

    def _preset_values(self, model: str, preset: str) -> dict[str, Any]:
        saved = self._saved.get(model, {})
        if preset in saved:
            return {**dataclasses.asdict(model_entry(model).presets[model_entry(model).default_preset]),
                    **saved[preset]}
        return dataclasses.asdict(model_entry(model).presets[preset])

    def presets_of(self, model: str) -> list[str]:
        """The model's built-in presets, then those saved in the workspace."""
        return [*model_entry(model).presets, *self._saved.get(model, {})]

    def set_saved_presets(self, presets: list[SavedPresetInfo]) -> None:
        """The presets saved in the workspace: each is offered in its model's preset list."""
        saved: dict[str, dict[str, dict[str, Any]]] = {}
        for info in presets:
            saved.setdefault(info.model, {})[info.name] = dict(info.config)
        if saved == self._saved:
            return
        self._saved = saved
        for model, name in list(self._wanted.items()):
            if name in saved.get(model, {}):
                del self._wanted[model]
                self.set_preset(model, name)
        for model, name in list(self._preset.items()):
            if name != CUSTOM and name not in self.presets_of(model):
                self.set_preset(model, model_entry(model).default_preset)  # its saved preset is gone
        self._on_current_changed()

    def set_preset(self, model: str, preset: str) -> None:
        """Give ``model`` a preset of its own (built-in or saved), or ``"custom"`` (starting from the
        preset it shows)."""
        entry = model_entry(model)
        if preset != CUSTOM and preset not in self.presets_of(model):
            preset = entry.default_preset
        form = self.form(model)
        if preset == CUSTOM:
            self._base[model] = self.base_preset(model)
            self._preset[model] = CUSTOM
            form.set_read_only(False)
        else:
            self._preset[model], self._base[model] = preset, preset
            form.set_values(self._preset_values(model, preset))
            form.set_read_only(True)
        if model == self.current_model():
            self.preset_combo.setCurrentIndex(self.preset_combo.findData(preset))
        self._update_caption()
        self.changed.emit()

    @Slot(int)
    def _on_preset_chosen(self, index: int) -> None:
        self.set_preset(self.current_model(), self.preset_combo.itemData(index))

    @Slot()
    def _reset(self) -> None:
        model = self.current_model()
        self.form(model).set_values(self._preset_values(model, self.base_preset(model)))

    def overrides(self, model: str) -> dict[str, Any]:
        """The settings the user changed from the model's preset (none unless it is custom)."""
        if self.preset(model) != CUSTOM or model not in self.forms:
            return {}
        base = self._preset_values(model, self.base_preset(model))
        return {name: value for name, value in self.forms[model].values().items() if base.get(name) != value}

    def set_custom_values(self, model: str, values: dict[str, Any]) -> None:
        """Make ``model`` custom with ``values`` changed from its preset (unknown names are ignored)."""
        if self.preset(model) != CUSTOM:
            self.set_preset(model, CUSTOM)
        self.form(model).set_values(values)

    @Slot()
    def _on_form_changed(self) -> None:
        self._update_caption()
        self.changed.emit()

    def _update_caption(self) -> None:
        model = self.current_model()
        form = self.form(model)
        changed = self.overrides(model)
        form.mark_changed(set(changed))
        self.reset_button.setVisible(self.preset(model) == CUSTOM)
        if not form.editors:
            self.caption.setText(f"{model_entry(model).label} has no settings.")
        elif self.preset(model) != CUSTOM:
            self.caption.setText(f"The {self.base_preset(model)} preset's values. Choose Custom to change some of "
                                 "them; the other models keep their own.")
        elif changed:
            listed = ", ".join(f"{form.labels[name]} {value}" for name, value in changed.items())
            self.caption.setText(f"Custom, from the {self.base_preset(model)} preset; changed (in bold): {listed}.")
        else:
            self.caption.setText(f"Custom, from the {self.base_preset(model)} preset: edit the fields to change.")

    # ----- runs to plan -----
    def plans(self) -> list[RunPlan]:
        """One plan per checked model: its preset and the fields the user changed."""
        return [RunPlan(model, self.base_preset(model), self.overrides(model)) for model in self.checked_models()]

    def problem(self, seeds: list[int], device: str) -> str | None:
        """Why the checked models' settings cannot be trained (the engine's message, naming the
        setting by its form label, and the model when several are checked); the field is marked."""
        checked = self.checked_models()
        for form in self.forms.values():
            form.mark_invalid(None)
        for plan in self.plans():
            try:
                validate_plans([plan], seeds[:1] or [0], device)
            except ConfigError as exc:
                if exc.setting is not None and plan.model in self.forms:
                    self.forms[plan.model].mark_invalid(exc.setting)
                return f"{model_entry(plan.model).label}: {exc}" if len(checked) > 1 else str(exc)
            except WorkbenchError as exc:
                return str(exc)
        return None

    # ----- remembered choices -----
    def state(self) -> dict[str, Any]:
        """The choices to remember: checked models, each model's preset and custom changes."""
        return {"models": self.checked_models(),
                "presets": {model: {"preset": self.preset(model), "base": self.base_preset(model),
                                    "changes": self.overrides(model)} for model in self._preset}}

    def restore(self, state: dict[str, Any]) -> None:
        presets = state.get("presets", {})
        for model, choice in presets.items() if isinstance(presets, dict) else []:
            if model not in MODELS.names() or not isinstance(choice, dict):
                continue
            base = str(choice.get("base", ""))
            if base not in self.presets_of(model) and choice.get("preset") != CUSTOM:
                self._wanted[model] = base  # a saved preset: chosen once the workspace's are read
            try:
                self.set_preset(model, base)
                if choice.get("preset") == CUSTOM:
                    self.set_custom_values(model, dict(choice.get("changes") or {}))
            except (TypeError, ValueError) as exc:
                log.warning("remembered settings of %s not restored: %s", model, exc)
        models = state.get("models", [])
        self.set_checked_models([m for m in models if m in MODELS.names()] if isinstance(models, list) else [])
