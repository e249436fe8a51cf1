"""What a run is called, the same in every listing (command line, browser, Training, Results,
Inspection): its model, its preset and what differs from the preset ("HRNN Init, small,
epochs=2"); runs that differ only by seed share this label, and their tables group them."""
from __future__ import annotations

import dataclasses

from engine.runs.models import MODELS, preset_config
from engine.runs.records import RunSummary

#: Settings that do not change what is learned: not shown in labels.
_NOT_PART_OF_THE_MODEL = frozenset({"seed", "device", "model", "cuda_graph_steps"})


def _value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else str(value)


def model_label(run: RunSummary) -> str:
    """The user's name for the run, else "HRNN Init, small, epochs=2": the model's label, its
    preset (unless the model has only one) and the settings that differ from that preset, in
    alphabetical order; for a saved preset, its name."""
    if run.name:
        return run.name
    if run.model not in MODELS:
        return run.model
    entry = MODELS[run.model]
    parts = [entry.label]
    if run.preset is not None and run.preset not in entry.presets:
        return ", ".join([*parts, run.preset])  # a saved preset: its name says what it is
    if run.preset is not None and len(entry.presets) > 1:
        parts.append(run.preset)
    preset = dataclasses.asdict(preset_config(run.model, run.preset))
    parts += [f"{key}={_value(value)}" for key, value in sorted(run.config.items())
              if key in preset and key not in _NOT_PART_OF_THE_MODEL and preset[key] != value]
    return ", ".join(parts)


def run_label(run: RunSummary) -> str:
    """"#3 HRNN Init, small, epochs=2, seed 0": one run."""
    return f"#{run.id} {model_label(run)}, seed {run.seed}"
