"""The verdict as a picture: each model's relative difference to a reference model on one metric,
with a 95% interval from a paired bootstrap over users (:mod:`engine.evaluation.bootstrap`), and
each personalized model against its session-only twin (HRNN Init against RNN). The Results panel
draws it as a forest plot, for the runs of a fair comparison or any selection of runs; the same
data serves its export.

Everything is computed from a :class:`~engine.workbench.results.ResultsSnapshot`: the per-event
ranks the panel already holds, nothing read again."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import InputError
from engine.evaluation.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    RelativeDifference,
    paired_bootstrap,
    per_user_sums,
)
from engine.evaluation.metrics import event_metric, metric_label
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs.models import MODELS
from engine.workbench.results import COMPARISON_STUDY_PREFIX, REFERENCE_MODEL, ResultsSnapshot

__all__ = ["ALL_RUNS", "ForestPlotData", "ForestRow", "RunSelection", "TwinLink", "forest_data", "run_selections"]

#: The key of the selection of every evaluated run.
ALL_RUNS = "all"


@dataclass(frozen=True)
class RunSelection:
    """Runs to compare: every evaluated run, the test runs of one fair comparison, or the preset
    runs (those no comparison trained)."""

    key: str
    title: str
    run_ids: tuple[int, ...]


@dataclass(frozen=True)
class ForestRow:
    """One model (a label of the results): its mean over seeds and its difference to the
    reference (None for the reference itself)."""

    label: str
    model_name: str
    mean: float
    n_seeds: int
    difference: RelativeDifference | None


@dataclass(frozen=True)
class TwinLink:
    """A personalized model and its session-only twin, both among the rows, and the personalized
    model's relative difference to its twin (paired bootstrap as well)."""

    model: str  # label
    twin: str  # label
    difference: RelativeDifference


@dataclass(frozen=True)
class ForestPlotData:
    """What the forest plot draws: ``rows`` in the order drawn (largest difference first, the
    reference among them at 0, each session-only twin followed by its personalized models), the
    ``links`` between personalized models and their twins, and
    what the figure says it is (metric, reference, users resampled, runs)."""

    dataset_name: str
    metric: str  # e.g. "recall@10"
    metric_title: str  # e.g. "Recall@10"
    reference: str
    rows: tuple[ForestRow, ...]
    links: tuple[TwinLink, ...]
    n_users: int
    n_resamples: int
    confidence: float
    selection: str  # the selection's title

    def row(self, label: str) -> ForestRow:
        return next(row for row in self.rows if row.label == label)


def _comparison_number(study: str) -> int | None:
    rest = study.removeprefix(COMPARISON_STUDY_PREFIX)
    return int(rest) if study.startswith(COMPARISON_STUDY_PREFIX) and rest.isdigit() else None


def run_selections(snapshot: ResultsSnapshot) -> list[RunSelection]:
    """Every evaluated run; the test runs of each fair comparison (newest first); the preset runs,
    when there are both."""
    evaluated = [run_id for run_id in snapshot.runs if run_id in snapshot.rows]
    selections = [RunSelection(ALL_RUNS, "All evaluated runs", tuple(evaluated))]
    comparisons: dict[int, list[int]] = {}
    for run_id in evaluated:
        number = _comparison_number(snapshot.runs[run_id].study or "")
        if number is not None:
            comparisons.setdefault(number, []).append(run_id)
    for number in sorted(comparisons, reverse=True):
        selections.append(RunSelection(f"compare-{number}", f"Fair comparison #{number} (tuned)",
                                       tuple(comparisons[number])))
    preset = tuple(run_id for run_id in evaluated if _comparison_number(snapshot.runs[run_id].study or "") is None)
    if comparisons and preset:
        selections.append(RunSelection("preset", "Preset runs (no comparison)", preset))
    return selections


def _sums(snapshot: ResultsSnapshot, run_ids: Sequence[int], metric: str,
          users: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """Per label (in the snapshot's order): the per-user sums of ``metric`` averaged over its seeds,
    and its number of seeds."""
    per_label: dict[str, list[np.ndarray]] = {}
    for run_id in run_ids:
        frame = snapshot.frames[run_id]
        compat = bool(frame.attrs.get("compat_2017", snapshot.settings.compat_2017))
        values = event_metric(frame["rank"].to_numpy(), metric, compat)
        sums = per_user_sums(frame["user"].to_numpy(), values, users)
        per_label.setdefault(snapshot.rows[run_id]["model"], []).append(sums)
    return {label: (np.mean(seeds, axis=0), len(seeds)) for label, seeds in per_label.items()}


def _value(row: ForestRow) -> float:
    """A row's difference (the reference: 0); differences that cannot be computed sort last."""
    value = 0.0 if row.difference is None else row.difference.relative
    return value if math.isfinite(value) else -math.inf


def _drawing_order(rows: list[ForestRow], links: list[TwinLink]) -> list[ForestRow]:
    """The largest difference first; a session-only twin with its personalized models right under
    it (so that the links between them stay short), the group placed by its best member."""
    by_label = {row.label: row for row in rows}
    members: dict[str, list[str]] = {}
    for link in links:
        members.setdefault(link.twin, []).append(link.model)
    grouped = {model for models in members.values() for model in models}
    units = []
    for row in rows:
        if row.label in grouped:
            continue
        unit = [row] + sorted((by_label[model] for model in members.get(row.label, [])), key=_value, reverse=True)
        units.append(unit)
    units.sort(key=lambda unit: max(_value(row) for row in unit), reverse=True)
    return [row for unit in units for row in unit]


def forest_data(snapshot: ResultsSnapshot, metric: str, reference: str | None = None,
                selection: RunSelection | None = None, labels: Sequence[str] | None = None,
                n_resamples: int = DEFAULT_RESAMPLES, confidence: float = DEFAULT_CONFIDENCE, seed: int = 0,
                progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> ForestPlotData:
    """The forest plot of ``metric`` (e.g. ``recall@10``) for the runs of ``selection`` (default:
    every evaluated run), limited to the models ``labels`` when given, against ``reference`` (a
    label; None or a label not among them: RNN, else the first model)."""
    metric_title = metric_label(metric)
    selection = selection or run_selections(snapshot)[0]
    run_ids = [run_id for run_id in selection.run_ids if run_id in snapshot.rows
               and (labels is None or snapshot.rows[run_id]["model"] in labels)]
    if not run_ids:
        raise InputError("no evaluated runs to compare in this selection")
    order = list(dict.fromkeys(snapshot.rows[run_id]["model"] for run_id in run_ids))
    names = {snapshot.rows[run_id]["model"]: snapshot.rows[run_id]["model_name"] for run_id in run_ids}
    if reference is None or reference not in order:
        rnn = [label for label in order if names[label] == REFERENCE_MODEL]
        reference = rnn[0] if rnn else order[0]
    users = np.unique(np.concatenate([snapshot.frames[run_id]["user"].to_numpy() for run_id in run_ids]))
    progress(0.1, "per-user sums")
    sums = _sums(snapshot, run_ids, metric, users)
    n_events = len(snapshot.frames[run_ids[0]])
    others = [label for label in order if label != reference]
    progress(0.3, f"bootstrap over {len(users):,} users")
    differences = dict(zip(others, paired_bootstrap(sums[reference][0], np.column_stack(
        [sums[label][0] for label in others]) if others else np.zeros((len(users), 0)), n_resamples, confidence,
        seed, cancel), strict=True))
    rows = [ForestRow(label, names[label], float(sums[label][0].sum() / n_events) if n_events else math.nan,
                      sums[label][1], differences.get(label)) for label in order]
    links = []
    progress(0.8, "personalized models against their twins")
    first_label: dict[str, str] = {}
    for label in order:
        first_label.setdefault(names[label], label)
    for label in order:
        entry = MODELS[names[label]] if names[label] in MODELS else None
        twin = first_label.get(entry.session_twin) if entry is not None and entry.session_twin else None
        if twin is None or first_label[names[label]] != label:
            continue
        (difference,) = paired_bootstrap(sums[twin][0], sums[label][0][:, None], n_resamples, confidence, seed, cancel)
        links.append(TwinLink(label, twin, difference))
    progress(1.0, "done")
    return ForestPlotData(snapshot.dataset_name, metric, metric_title, reference,
                          tuple(_drawing_order(rows, links)), tuple(links),
                          len(users), n_resamples, confidence, selection.title)
