"""Results of a dataset's runs: the Table-3-style comparison (mean ± std over seeds, Wilcoxon
marks against a reference model) and breakdowns by history length, position and popularity."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.evaluation import breakdowns
from engine.evaluation.comparison import comparison_table
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import mean_metrics, metric_names
from engine.evaluation.popularity import item_popularity
from engine.runs import records
from engine.runs.evaluate_run import find_evaluation, load_event_ranks
from engine.errors import WorkbenchError
from engine.runs.models import MODEL_LABELS, MODELS, build_config
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace

BREAKDOWNS = ("history", "position", "popularity")


_NOT_PART_OF_THE_MODEL = {"seed", "device"}


def model_label(run: records.RunSummary) -> str:
    """'HRNN Init'; 'HRNN Init (large)' for another preset; settings that differ from the preset
    are appended ('RNN [epochs=5]'), so that only runs differing by seed share a label."""
    label = MODEL_LABELS[run.model]
    if run.preset not in (None, "small", "default"):
        label = f"{label} ({run.preset})"
    try:
        preset_config = dataclasses.asdict(build_config(run.model, run.preset if run.preset != "default" else None,
                                                        {}, run.seed))
    except WorkbenchError:
        return label
    changed = [f"{key}={value}" for key, value in sorted(run.config.items())
               if key not in _NOT_PART_OF_THE_MODEL and preset_config.get(key) != value]
    return f"{label} [{', '.join(changed)}]" if changed else label


@dataclass
class DatasetResults:
    """Finished, evaluated runs of one dataset: one row per run in ``runs`` (model label, seed,
    run id, metrics) and their per-event frames by model label."""

    runs: pd.DataFrame
    events: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    settings: EvaluationSettings = field(default_factory=EvaluationSettings)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.runs["model"])) if len(self.runs) else []


def collect_results(workspace: Workspace, dataset_id: int, settings: EvaluationSettings = EvaluationSettings(),
                    run_ids: Sequence[int] | None = None, validation: bool = False) -> DatasetResults:
    """Gather the evaluations (under ``settings``) of the dataset's finished runs, models in the
    paper's order; runs without such an evaluation are left out."""
    runs = [r for r in records.list_runs(workspace, dataset_id) if r.status == "finished"
            and r.validation == validation and (run_ids is None or r.id in run_ids)]
    runs.sort(key=lambda r: (MODELS.index(r.model), r.preset or "", r.seed, r.id))
    rows, events = [], {}
    for run in runs:
        evaluation = find_evaluation(workspace, run.id, settings)
        if evaluation is None:
            continue
        label = model_label(run)
        frame = load_event_ranks(workspace, evaluation.id)
        metrics = mean_metrics(frame["rank"].to_numpy(), settings.ks, settings.compat_2017)
        rows.append({"model": label, "seed": run.seed, "run_id": run.id, **metrics})
        events.setdefault(label, []).append(frame)
    return DatasetResults(pd.DataFrame(rows), events, settings)


def default_reference(models: Sequence[str]) -> str:
    """The session-based RNN (the paper's reference; its first label, settings included), else the
    first model."""
    rnn = MODEL_LABELS["rnn"]
    return next((m for m in models if m == rnn or m.startswith(f"{rnn} [")), models[0])


def comparison(results: DatasetResults, ks: Sequence[int], reference: str | None = None,
               level: str = "event") -> pd.DataFrame:
    """Rows (model, metric) with mean, std, n_seeds, p_value and mark (p < 0.01) against ``reference``
    (default: RNN when present, else the first model)."""
    reference = reference or default_reference(results.models)
    metrics = metric_names(ks)
    return comparison_table(results.runs, metrics, results.events, reference, level,
                            results.settings.compat_2017).assign(reference=reference)


def breakdown(results: DatasetResults, kind: str, ks: Sequence[int], popularity: np.ndarray | None = None) -> pd.DataFrame:
    """Per model and group: each metric's mean and std over seeds, and the group's event count."""
    frames = []
    for model, runs in results.events.items():
        per_seed = []
        for events in runs:
            if kind == "history":
                table = breakdowns.by_history_length(events, ks, results.settings.compat_2017)
            elif kind == "position":
                table = breakdowns.by_position(events, ks, results.settings.compat_2017)
            elif kind == "popularity":
                assert popularity is not None
                table = breakdowns.by_item_popularity(events, popularity, ks=ks, compat_2017=results.settings.compat_2017)
            else:
                raise ValueError(f"unknown breakdown {kind!r}; choose one of {', '.join(BREAKDOWNS)}")
            per_seed.append(table)
        stacked = pd.concat(per_seed, keys=range(len(per_seed)), names=["seed_index", "group"])
        metrics = metric_names(ks)
        grouped = stacked.groupby(level="group", sort=False)
        summary = grouped[metrics].mean().add_suffix("_mean").join(grouped[metrics].std().add_suffix("_std"))
        summary["n_events"] = grouped["n_events"].first()
        summary["n_seeds"] = len(per_seed)
        frames.append(summary.reset_index().assign(model=model))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def dataset_popularity(workspace: Workspace, dataset_id: int) -> np.ndarray:
    return item_popularity(load_prepared(workspace, dataset_id).train)
