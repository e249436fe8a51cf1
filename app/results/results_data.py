"""What the Results panel shows, computed without Qt (in background jobs): a dataset's evaluated
runs with their per-event ranks, loaded once and then only topped up with new runs, and for one K,
reference model and significance level the comparison table and the three breakdowns."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import WorkbenchError
from engine.evaluation import breakdowns
from engine.evaluation.comparison import LEVELS, aggregate_seeds
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import metric_names
from engine.progress import CancelToken, ProgressCallback, scaled
from engine.runs.evaluate_run import dataset_settings, evaluate_run, settings_for_run
from engine.runs.models import MODELS, NEURAL_MODELS
from engine.runs.records import RunSummary, get_run, list_runs
from engine.runs.report import BREAKDOWNS, DatasetResults, breakdown, collect_results, comparison, dataset_popularity
from engine.storage import catalog
from engine.storage.catalog import list_datasets
from engine.storage.workspace import Workspace

log = logging.getLogger(__name__)

KS = (5, 10, 20)
SETTINGS = EvaluationSettings(ks=KS)
BREAKDOWN_TITLES = {"history": "By user history length", "position": "By position in the session",
                    "popularity": "By item popularity"}
POSITION_LABELS = {"beginning": "beginning (predictions 1–2)", "middle": "middle (3–4)", "end": "end (5 and later)"}
GROUP_SIZE_COLUMNS = ("n_events", "n_sessions", "n_users")
#: The levels the Wilcoxon tests can pair by (the engine's), as the panel names them.
LEVEL_TITLES = {level: f"{level}s" for level in LEVELS}
DEFAULT_LEVEL = LEVELS[0]


@dataclass(frozen=True, eq=False)
class ResultsSnapshot:
    """The evaluated (finished, test-split) runs of a dataset: a row of metrics and the per-event
    ranks of each, the run records, and the items' training popularity."""

    dataset_id: int
    dataset_name: str
    rows: dict[int, dict]  # run id -> {"model": label, "seed", "run_id", metric: value}
    frames: dict[int, pd.DataFrame]  # run id -> per-event ranks
    runs: dict[int, RunSummary]  # run id -> record, in the paper's model order
    popularity: np.ndarray
    missing_checkpoints: frozenset[int] = frozenset()  # neural runs whose checkpoint file is gone
    #: the dataset across launches (workspace, id and creation time): a key for remembered choices
    identity: str = ""
    settings: EvaluationSettings = SETTINGS  # whose evaluations these are (the dataset's candidates)

    def results(self) -> DatasetResults:
        """The engine's view of these runs (models in the paper's order, seeds ascending)."""
        order = [run_id for run_id in self.runs if run_id in self.rows]
        events: dict[str, list[pd.DataFrame]] = {}
        for run_id in order:
            events.setdefault(self.rows[run_id]["model"], []).append(self.frames[run_id])
        return DatasetResults(pd.DataFrame([self.rows[run_id] for run_id in order]), events, self.settings)

    def unevaluated_runs(self) -> list[int]:
        """Finished runs with no evaluation under the dataset's setting (ids, in the paper's order)."""
        return [run_id for run_id in self.runs if run_id not in self.rows]

    def run_ids_of(self, model: str) -> list[int]:
        return [run_id for run_id in self.runs if run_id in self.rows and self.rows[run_id]["model"] == model]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.rows[run_id]["model"] for run_id in self.runs if run_id in self.rows))

    def default_reference(self) -> str | None:
        """The session-based RNN (the paper's reference) when evaluated, else the first model."""
        rnn = [self.rows[i]["model"] for i, run in self.runs.items() if run.model == "rnn" and i in self.rows]
        return rnn[0] if rnn else next(iter(self.models), None)


def _paper_order(run: RunSummary) -> tuple:
    return MODELS.index(run.model) if run.model in MODELS else len(MODELS), run.preset or "", run.seed, run.id


def load_results(url: str, dataset_id: int, previous: ResultsSnapshot | None, progress: ProgressCallback,
                 cancel: CancelToken) -> ResultsSnapshot:
    """The dataset's evaluated runs; the ranks of runs already in ``previous`` are not read again,
    and ``previous`` itself comes back when nothing changed."""
    if previous is not None and previous.dataset_id != dataset_id:
        previous = None
    progress(0.0, "listing the runs")
    with Workspace(url) as workspace:
        settings = dataset_settings(workspace, dataset_id, SETTINGS)
        if previous is not None and previous.settings != settings:
            previous = None  # the dataset's evaluation setting changed: other evaluations
        finished = sorted((run for run in list_runs(workspace, dataset_id)
                           if run.status == "finished" and not run.validation), key=_paper_order)
        known = previous.rows if previous is not None else {}
        new_ids = [run.id for run in finished if run.id not in known]
        cancel.raise_if_cancelled()
        rows = {run.id: known[run.id] for run in finished if run.id in known}
        frames = {run_id: previous.frames[run_id] for run_id in rows} if previous is not None else {}
        if new_ids:
            progress(0.1, f"reading the ranks of {len(new_ids)} runs")
            fresh = collect_results(workspace, dataset_id, settings, run_ids=new_ids)
            for row in fresh.runs.to_dict("records"):
                rows[int(row["run_id"])] = row
            for model, model_frames in fresh.events.items():
                model_ids = fresh.runs.loc[fresh.runs["model"] == model, "run_id"].astype(int).tolist()
                frames.update(zip(model_ids, model_frames))
        cancel.raise_if_cancelled()
        progress(0.9, "item popularity")
        popularity = previous.popularity if previous is not None else dataset_popularity(workspace, dataset_id)
        summary = next((d for d in list_datasets(workspace) if d.id == dataset_id), None)
        name = summary.name if summary is not None else f"dataset {dataset_id}"
        identity = f"{url}#{dataset_id}" + (f"@{summary.created_at.isoformat()}" if summary is not None else "")
        missing = frozenset(run.id for run in finished if run.model in NEURAL_MODELS
                            and (run.checkpoint_path is None or not Path(run.checkpoint_path).exists()))
    if (previous is not None and list(previous.runs) == [run.id for run in finished] and rows.keys() == known.keys()
            and previous.missing_checkpoints == missing and previous.identity == identity):
        return previous
    log.info("results of dataset %d: %d evaluated runs (%d read now)", dataset_id, len(rows), len(new_ids))
    return ResultsSnapshot(dataset_id, name, rows, frames, {run.id: run for run in finished}, popularity, missing,
                           identity, settings)


@dataclass(frozen=True, eq=False)
class ResultsView:
    """The comparison at one K against one reference model with the Wilcoxon tests paired by
    ``level`` (``"event"``, ``"session"`` or ``"user"``), and the breakdowns at that K.

    ``table``: the engine's comparison rows (model, metric, mean, std, n_seeds, p_value, mark,
    reference, level). ``breakdowns[kind]``: per model and group, ``<metric>_mean`` / ``_std`` from the
    engine, the group's sizes and its label. ``per_run[kind]``: the same groups per run (run_id
    column). ``notes``: why something could not be computed."""

    dataset_id: int
    k: int
    reference: str
    table: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)
    per_run: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    level: str = DEFAULT_LEVEL

    @property
    def metrics(self) -> list[str]:
        return metric_names([self.k])


def _popularity_label(low: float, high: float, last: bool) -> str:
    """The whole event counts of a popularity bucket [low, high) (the last one [low, high])."""
    first, final = math.ceil(low), math.floor(high) if last else math.ceil(high) - 1
    counts = f"{first:,}" if first == final else f"{first:,}–{final:,}"
    return f"{counts} training events"


def _group_label(kind: str, row: pd.Series, last_group: object) -> str:
    if kind == "history":
        limit = breakdowns.SHORT_HISTORY_MAX_SESSIONS
        short = row["group"] == "short"
        return f"short history (≤ {limit} sessions)" if short else f"long history (> {limit} sessions)"
    if kind == "position":
        return POSITION_LABELS.get(str(row["group"]), str(row["group"]))
    return _popularity_label(row["min_popularity"], row["max_popularity"], row["group"] == last_group)


def _per_run_table(kind: str, events: pd.DataFrame, k: int, popularity: np.ndarray) -> pd.DataFrame:
    if kind == "history":
        return breakdowns.by_history_length(events, [k])
    if kind == "position":
        return breakdowns.by_position(events, [k])
    return breakdowns.by_item_popularity(events, popularity, ks=[k])


def _breakdown(snapshot: ResultsSnapshot, results: DatasetResults, kind: str,
               k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = breakdown(results, kind, [k], snapshot.popularity if kind == "popularity" else None)
    if summary.empty:
        raise ValueError("no events in any group")
    per_run = []
    for run_id in snapshot.runs:
        if run_id in snapshot.frames:
            table = _per_run_table(kind, snapshot.frames[run_id], k, snapshot.popularity).reset_index()
            per_run.append(table.assign(run_id=run_id, model=snapshot.rows[run_id]["model"]))
    runs = pd.concat(per_run, ignore_index=True)
    last_group = runs["group"].max() if kind == "popularity" else None
    runs["label"] = [_group_label(kind, row, last_group) for _, row in runs.iterrows()]
    sizes = runs.drop_duplicates(["model", "group"])[["model", "group", "label", *GROUP_SIZE_COLUMNS]]
    return summary.drop(columns="n_events").merge(sizes, on=["model", "group"], how="left"), runs


def analyse(snapshot: ResultsSnapshot, k: int, reference: str | None, progress: ProgressCallback,
            cancel: CancelToken, level: str = DEFAULT_LEVEL, breakdowns_of: ResultsView | None = None) -> ResultsView:
    """Comparison and breakdowns at cut-off ``k`` (``reference`` None: the engine's default), the
    Wilcoxon tests paired by ``level``. The breakdowns (which depend on neither the reference nor
    the level) are taken from ``breakdowns_of`` when that is a view of the same snapshot and K."""
    results = snapshot.results()
    notes: list[str] = []
    progress(0.0, "comparison and significance")
    try:
        table = comparison(results, [k], reference, level)
    except WorkbenchError as exc:
        notes.append(f"No significance marks: {exc}")
        table = aggregate_seeds(results.runs, metric_names([k])).assign(
            p_value=np.nan, mark="", reference=reference or results.models[0])
    view = ResultsView(snapshot.dataset_id, k, str(table["reference"].iloc[0]), table.assign(level=level),
                       notes=notes, level=level)
    if breakdowns_of is not None and (breakdowns_of.dataset_id, breakdowns_of.k) == (snapshot.dataset_id, k):
        view.breakdowns.update(breakdowns_of.breakdowns)
        view.per_run.update(breakdowns_of.per_run)
        notes.extend(f"{BREAKDOWN_TITLES[kind]}: no events to show" for kind in BREAKDOWNS
                     if kind not in view.breakdowns)
        return view
    for index, kind in enumerate(BREAKDOWNS):
        cancel.raise_if_cancelled()
        progress((index + 1) / (len(BREAKDOWNS) + 1), BREAKDOWN_TITLES[kind].lower())
        try:
            view.breakdowns[kind], view.per_run[kind] = _breakdown(snapshot, results, kind, k)
        except (WorkbenchError, ValueError, KeyError) as exc:
            log.warning("breakdown %s not computed: %s", kind, exc)
            notes.append(f"{BREAKDOWN_TITLES[kind]}: no events to show")
    return view


def set_dataset_candidates(url: str, dataset_id: int, n_candidates: int | None, progress: ProgressCallback,
                           cancel: CancelToken) -> None:
    """Change the dataset's evaluation setting (see :func:`engine.storage.catalog.set_evaluation_candidates`)."""
    with Workspace(url) as workspace:
        catalog.set_evaluation_candidates(workspace, dataset_id, n_candidates)


def evaluate_runs(url: str, dataset_id: int, run_ids: list[int], progress: ProgressCallback,
                  cancel: CancelToken) -> int:
    """Evaluate runs of the dataset under its evaluation setting (in a child process: the scoring
    holds the interpreter); returns how many were evaluated."""
    with Workspace(url) as workspace:
        prepared = catalog.load_prepared(workspace, dataset_id)
        settings = dataset_settings(workspace, dataset_id, SETTINGS)
        for index, run_id in enumerate(run_ids):
            cancel.raise_if_cancelled()
            share = scaled(progress, index / len(run_ids), (index + 1) / len(run_ids))
            run = get_run(workspace, run_id)
            evaluate_run(workspace, run_id, settings_for_run(run, settings), share, cancel, prepared)
    return len(run_ids)
