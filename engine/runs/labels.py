"""What a run is called, the same in every listing (command line, browser, Training, Results,
Inspection): its model, its preset and what differs from the preset ("HRNN Init, small,
epochs=2"); runs that differ only by seed share this label, and their tables group them."""
from __future__ import annotations

import dataclasses

from engine.registry.settings import legacy_values, settings_of
from engine.runs.models import MODELS, preset_config
from engine.runs.records import RunSummary

#: Settings that do not change what is learned: not shown in labels.
_NOT_PART_OF_THE_MODEL = frozenset({"seed", "device", "model", "cuda_graph_steps"})


def _value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else str(value)


def model_label(run: RunSummary) -> str:
    """The user's name for the run, else "HRNN Init, small, epochs=2": the model's label, its
    preset (unless the model has only one), the settings that differ from that preset, in
    alphabetical order, and the tags of its switches that are on ("Markov, popularity fill"); for
    a saved preset, its name (and those tags)."""
    if run.name:
        return run.name
    if run.model not in MODELS:
        return run.model
    entry = MODELS[run.model]
    preset = dataclasses.asdict(preset_config(run.model, run.preset))
    config = {**legacy_values(entry.config_type), **run.config}  # settings added since: what the run did
    tags = {info.name: info.tag for info in settings_of(entry.config_type) if info.tag is not None}
    shown_tags = [tag for name, tag in tags.items() if config.get(name, preset.get(name)) is True]
    parts = [entry.label]
    if run.preset is not None and run.preset not in entry.presets:
        return ", ".join([*parts, run.preset, *shown_tags])  # a saved preset: its name says what it is
    if run.preset is not None and len(entry.presets) > 1:
        parts.append(run.preset)
    parts += [f"{key}={_value(value)}" for key, value in sorted(config.items())
              if key in preset and key not in _NOT_PART_OF_THE_MODEL and preset[key] != value
              and not (key in tags and value is True)]
    return ", ".join([*parts, *shown_tags])


def run_label(run: RunSummary) -> str:
    """"#3 HRNN Init, small, epochs=2, seed 0": one run."""
    return f"#{run.id} {model_label(run)}, seed {run.seed}"
