"""Results of a dataset's runs: the Table-3-style comparison (mean ± std over seeds, Wilcoxon
marks against a reference model) and the registered breakdowns, for the ``report`` command and
the Results panel.

Each run's evaluation is looked up under the run's own evaluation settings (a run trained with
``compat_2017`` is evaluated with hits counted as rank < K, and its per-event frame says so in
``attrs["compat_2017"]``). The panel's snapshot loads a dataset's evaluated runs once and then
only tops them up with new runs."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.errors import InputError, WorkbenchError
from engine.evaluation.breakdowns import BREAKDOWNS
from engine.evaluation.comparison import LEVELS, aggregate_seeds, comparison_table
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import DEFAULT_CUTOFFS, mean_metrics, metric_names, parse_metric_name
from engine.evaluation.popularity import candidates_label, candidates_phrase, item_popularity
from engine.evaluation.ranking import DEFAULT_TIE_MODE, TIE_MODES, TieMode
from engine.evaluation.significance import DEFAULT_ALPHA, Level
from engine.evaluation.ties import TIE_MODE_NAMES, TIE_MODE_PHRASES, TieSummary, convert_ranks, tie_mode_phrase
from engine.progress import CancelToken, ProgressCallback, scaled
from engine.runs import records
from engine.runs.checkpoints import checkpoint_available
from engine.runs.evaluate_run import dataset_settings, evaluate_run, find_run_ranks, other_tie_modes
from engine.runs.labels import model_label
from engine.runs.models import MODELS, model_entry
from engine.storage import catalog
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = ["BREAKDOWNS", "DEFAULT_ALPHA", "DEFAULT_CUTOFFS", "LEVELS", "DatasetResults", "ResultsSnapshot",
           "ResultsView", "analyse", "breakdown", "candidates_label", "candidates_phrase", "collect_results",
           "comparison", "dataset_popularity", "default_reference", "evaluate_runs", "is_tuned", "load_results",
           "metric_names", "parse_metric_name", "resolve_reference", "set_dataset_candidates", "tie_table",
           "TIE_COLUMNS", "protocol_text", "DEFAULT_TIE_MODE", "TIE_MODES", "TIE_MODE_NAMES",
           "TIE_MODE_PHRASES", "TieMode"]

SETTINGS = EvaluationSettings(ks=DEFAULT_CUTOFFS)
#: The session-based reference of the paper's tables (and of the significance marks by default).
REFERENCE_MODEL = "rnn"
#: The study of a fair comparison's test runs: "compare-3" (its tuning studies: "compare-3-MODEL").
COMPARISON_STUDY_PREFIX = "compare-"
GROUP_SIZE_COLUMNS = ("n_events", "n_sessions", "n_users")


@dataclass
class DatasetResults:
    """Finished, evaluated runs of one dataset: one row per run in ``runs`` (model label, model
    name, seed, run id, ``tuned``, metrics, and the tie statistics ``tied_share``, ``mean_tied``,
    ``floor_share``: NaN where the evaluation did not store ties) and their per-event frames by
    model label, every rank in ``settings.tie_mode``. ``tuned``: the run belongs to a fair
    comparison (``compare``), which trained each model's best tuned configuration (or its preset,
    when it has nothing to tune); the others are preset rows. ``other_modes``: finished runs left
    out because their stored evaluations hold only other tie modes (run id -> those modes)."""

    runs: pd.DataFrame
    events: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    settings: EvaluationSettings = field(default_factory=EvaluationSettings)
    other_modes: dict[int, list[str]] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.runs["model"])) if len(self.runs) else []

    @property
    def ties_known(self) -> bool:
        """Whether every run's ranks carry their tie counts (then any tie mode follows from them)."""
        return bool(len(self.runs)) and all(
            "tied" in frame and not frame["tied"].isna().any() for frames in self.events.values() for frame in frames)

    def in_tie_mode(self, tie_mode: TieMode) -> DatasetResults:
        """The same runs ranked under ``tie_mode`` (exactly, from the tie counts; ValueError when a
        run's evaluation did not store them)."""
        if tie_mode == self.settings.tie_mode:
            return self
        if not self.ties_known:
            raise ValueError("some evaluations did not store their ties: re-evaluate them")
        events: dict[str, list[pd.DataFrame]] = {}
        rows = self.runs.copy()
        metrics = metric_names(self.settings.ks)
        for label, frames in self.events.items():
            for frame in frames:
                moved = frame.copy()
                moved["rank"] = convert_ranks(frame["rank"].to_numpy(), frame["tied"].to_numpy(),
                                              self.settings.tie_mode, tie_mode)
                moved.attrs = {**frame.attrs, "tie_mode": tie_mode}
                events.setdefault(label, []).append(moved)
                index = rows.index[rows["model"] == label][len(events[label]) - 1]  # rows and frames share order
                values = mean_metrics(moved["rank"].to_numpy(), self.settings.ks, _compat(moved, self.settings))
                rows.loc[index, metrics] = [values[m] for m in metrics]
        return DatasetResults(rows, events, dataclasses.replace(self.settings, tie_mode=tie_mode), self.other_modes)


def _table_order(run: records.RunSummary) -> tuple:
    """Runs in the registry's model order (the paper's), then preset, seed and id."""
    return MODELS.index(run.model), run.preset or "", run.seed, run.id


def _compat(frame: pd.DataFrame, settings: EvaluationSettings) -> bool:
    return bool(frame.attrs.get("compat_2017", settings.compat_2017))


def collect_results(workspace: Workspace, dataset_id: int, settings: EvaluationSettings = SETTINGS,
                    run_ids: Sequence[int] | None = None, validation: bool = False) -> DatasetResults:
    """Gather the ranks (under ``settings``, adjusted per run as evaluating it would; see
    :func:`~engine.runs.evaluate_run.find_run_ranks`) of the dataset's finished runs, in the
    registry's model order; runs without them are left out (those whose evaluations hold only
    another tie mode are listed in ``other_modes``)."""
    runs = sorted((r for r in records.list_runs(workspace, dataset_id) if r.status == "finished"
                   and r.validation == validation and (run_ids is None or r.id in run_ids)), key=_table_order)
    rows: list[dict] = []
    events: dict[str, list[pd.DataFrame]] = {}
    other_modes: dict[int, list[str]] = {}
    for run in runs:
        found = find_run_ranks(workspace, run, settings)
        if found is None:
            modes = other_tie_modes(workspace, run, settings)
            if modes:
                other_modes[run.id] = modes
            continue
        label = model_label(run)
        frame = found.frame
        metrics = mean_metrics(frame["rank"].to_numpy(), settings.ks, found.settings.compat_2017)
        ties = TieSummary.of(frame["tied"].to_numpy(), frame["floor"].to_numpy())
        rows.append({"model": label, "model_name": run.model, "seed": run.seed, "run_id": run.id,
                     "tuned": is_tuned(run), **metrics, **ties.as_dict()})
        events.setdefault(label, []).append(frame)
    return DatasetResults(pd.DataFrame(rows), events, settings, other_modes)


TIE_COLUMNS = ("tied_share", "mean_tied", "floor_share")


def protocol_text(settings: EvaluationSettings) -> str:
    """The ranking protocol in words: "targets ranked among all items, with conservative ties (items
    scored like the target rank above it)"."""
    return f"targets ranked among {candidates_phrase(settings.n_candidates)}, with {tie_mode_phrase(settings.tie_mode)}"


def tie_table(results: DatasetResults) -> pd.DataFrame:
    """Per model label (the results' order): the tie statistics averaged over its seeds
    (``tied_share``, ``mean_tied``, ``floor_share``; NaN where not stored)."""
    if results.runs.empty:
        return pd.DataFrame(columns=["model", *TIE_COLUMNS])
    return results.runs.groupby("model", sort=False)[list(TIE_COLUMNS)].mean().reset_index()


def is_tuned(run: records.RunSummary) -> bool:
    """Whether a test run was trained by a fair comparison (its study is the comparison's)."""
    return not run.validation and (run.study or "").startswith(COMPARISON_STUDY_PREFIX)


def default_reference(results: DatasetResults) -> str:
    """The session-based RNN (the paper's reference; its first label), else the first model."""
    if results.runs.empty:
        raise WorkbenchError("no evaluated runs to compare")
    rnn = results.runs.loc[results.runs["model_name"] == REFERENCE_MODEL, "model"]
    return str(rnn.iloc[0]) if len(rnn) else results.models[0]


def resolve_reference(results: DatasetResults, reference: str | None) -> str:
    """The label of the reference: ``reference`` itself when it is a label of these results, the
    first label of the model it names ("rnn"), or (None) :func:`default_reference`."""
    if reference is None:
        return default_reference(results)
    if reference in results.models:
        return reference
    if len(results.runs):
        of_model = results.runs.loc[results.runs["model_name"] == reference, "model"]
        if len(of_model):
            return str(of_model.iloc[0])
    raise InputError(f"no evaluated runs of {reference!r} to compare against (the models: "
                     f"{'; '.join(results.models) or 'none'})")


def comparison(results: DatasetResults, ks: Sequence[int], reference: str | None = None,
               level: Level = "event") -> pd.DataFrame:
    """Rows (model, metric) with mean, std, n_seeds, p_value and mark (p < 0.01) against ``reference``
    (a label or a model name; default: RNN when present, else the first model)."""
    reference = resolve_reference(results, reference)
    return comparison_table(results.runs, metric_names(ks), results.events, reference, level,
                            results.settings.compat_2017).assign(reference=reference)


def breakdown(results: DatasetResults, kind: str, ks: Sequence[int],
              popularity: np.ndarray | None = None) -> pd.DataFrame:
    """Per model and group of the registered breakdown ``kind``: each metric's mean and std over
    seeds, and the group's event count."""
    entry = BREAKDOWNS[kind]
    frames = []
    metrics = metric_names(ks)
    for model, runs in results.events.items():
        per_seed = [entry.table(events, ks, _compat(events, results.settings), _popularity(popularity))
                    for events in runs]
        stacked = pd.concat(per_seed, keys=range(len(per_seed)), names=["seed_index", "group"])
        grouped = stacked.groupby(level="group", sort=False)
        summary = grouped[metrics].mean().add_suffix("_mean").join(grouped[metrics].std().add_suffix("_std"))
        summary["n_events"] = grouped["n_events"].first()
        summary["n_seeds"] = len(per_seed)
        frames.append(summary.reset_index().assign(model=model))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _popularity(popularity: np.ndarray | None) -> np.ndarray:
    return popularity if popularity is not None else np.zeros(0, dtype=np.int64)


def dataset_popularity(workspace: Workspace, dataset_id: int) -> np.ndarray:
    return item_popularity(load_prepared(workspace, dataset_id).train)


# ----- the Results panel: a snapshot loaded in the background, then views of it -----

@dataclass(frozen=True, eq=False)
class ResultsSnapshot:
    """The evaluated (finished, test-split) runs of a dataset: a row of metrics and the per-event
    ranks of each, the run records, and the items' training popularity."""

    dataset_id: int
    dataset_name: str
    rows: dict[int, dict]  # run id -> {"model": label, "model_name", "seed", "run_id", "tuned", metric: value}
    frames: dict[int, pd.DataFrame]  # run id -> per-event ranks
    runs: dict[int, records.RunSummary]  # run id -> record, in the registry's model order
    popularity: np.ndarray
    missing_checkpoints: frozenset[int] = frozenset()  # neural runs whose checkpoint file is gone
    #: the dataset across launches (workspace, id and creation time): a key for remembered choices
    identity: str = ""
    settings: EvaluationSettings = SETTINGS  # whose evaluations these are (the dataset's candidates)
    #: finished runs whose stored evaluations hold only other tie modes (run id -> those modes)
    other_modes: dict[int, list[str]] = field(default_factory=dict)

    def results(self) -> DatasetResults:
        """These runs as :func:`collect_results` gives them (model order, seeds ascending)."""
        order = [run_id for run_id in self.runs if run_id in self.rows]
        events: dict[str, list[pd.DataFrame]] = {}
        for run_id in order:
            events.setdefault(self.rows[run_id]["model"], []).append(self.frames[run_id])
        return DatasetResults(pd.DataFrame([self.rows[run_id] for run_id in order]), events, self.settings,
                              self.other_modes)

    def unevaluated_runs(self) -> list[int]:
        """Finished runs with no evaluation under the dataset's setting (ids, in model order)."""
        return [run_id for run_id in self.runs if run_id not in self.rows]

    def run_ids_of(self, model: str) -> list[int]:
        return [run_id for run_id in self.runs if run_id in self.rows and self.rows[run_id]["model"] == model]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.rows[run_id]["model"] for run_id in self.runs if run_id in self.rows))

    def default_reference(self) -> str | None:
        """The session-based RNN (the paper's reference) when evaluated, else the first model."""
        rnn = [self.rows[i]["model"] for i, run in self.runs.items() if run.model == REFERENCE_MODEL and i in self.rows]
        return rnn[0] if rnn else next(iter(self.models), None)


def load_results(url: str, dataset_id: int, previous: ResultsSnapshot | None, progress: ProgressCallback,
                 cancel: CancelToken, tie_mode: TieMode = DEFAULT_TIE_MODE) -> ResultsSnapshot:
    """The dataset's evaluated runs, ranked with ``tie_mode``; the ranks of runs already in
    ``previous`` are not read again, and ``previous`` itself comes back when nothing changed."""
    if previous is not None and previous.dataset_id != dataset_id:
        previous = None
    progress(0.0, "listing the runs")
    with Workspace(url) as workspace:
        settings = dataset_settings(workspace, dataset_id, dataclasses.replace(SETTINGS, tie_mode=tie_mode))
        if previous is not None and previous.settings != settings:
            previous = None  # the dataset's evaluation setting changed: other evaluations
        finished = sorted((run for run in records.list_runs(workspace, dataset_id)
                           if run.status == "finished" and not run.validation), key=_table_order)
        known = previous.rows if previous is not None else {}
        new_ids = [run.id for run in finished if run.id not in known]
        other_modes: dict[int, list[str]] = {}
        cancel.raise_if_cancelled()
        # a run renamed since: its row under its new label (its ranks are not read again)
        rows = {run.id: {**known[run.id], "model": model_label(run)} for run in finished if run.id in known}
        frames = {run_id: previous.frames[run_id] for run_id in rows} if previous is not None else {}
        if new_ids:
            progress(0.1, f"reading the ranks of {len(new_ids)} runs")
            fresh = collect_results(workspace, dataset_id, settings, run_ids=new_ids)
            other_modes = fresh.other_modes
            for row in fresh.runs.to_dict("records"):
                rows[int(row["run_id"])] = row
            for model, model_frames in fresh.events.items():
                model_ids = fresh.runs.loc[fresh.runs["model"] == model, "run_id"].astype(int).tolist()
                frames.update(zip(model_ids, model_frames, strict=True))
        cancel.raise_if_cancelled()
        progress(0.9, "item popularity")
        popularity = previous.popularity if previous is not None else dataset_popularity(workspace, dataset_id)
        summary = next((d for d in catalog.list_datasets(workspace) if d.id == dataset_id), None)
        name = summary.name if summary is not None else f"dataset {dataset_id}"
        identity = f"{url}#{dataset_id}" + (f"@{summary.created_at.isoformat()}" if summary is not None else "")
        missing = frozenset(run.id for run in finished if model_entry(run.model).neural
                            and not checkpoint_available(workspace, run))
    if (previous is not None and list(previous.runs) == [run.id for run in finished] and rows == known
            and previous.missing_checkpoints == missing and previous.identity == identity
            and previous.other_modes == other_modes and previous.dataset_name == name):
        return previous
    log.info("results of dataset %d: %d evaluated runs (%d read now)", dataset_id, len(rows), len(new_ids))
    return ResultsSnapshot(dataset_id, name, rows, frames, {run.id: run for run in finished}, popularity, missing,
                           identity, settings, other_modes)


@dataclass(frozen=True, eq=False)
class ResultsView:
    """The comparison at one K against one reference model with the Wilcoxon tests paired by
    ``level`` (``"event"``, ``"session"`` or ``"user"``), and the breakdowns at that K.

    ``table``: the comparison rows (model, metric, mean, std, n_seeds, p_value, mark, reference,
    level). ``breakdowns[kind]``: per model and group, ``<metric>_mean`` / ``_std``, the group's
    sizes and its label. ``per_run[kind]``: the same groups per run (run_id column). ``notes``: why
    something could not be computed."""

    dataset_id: int
    k: int
    reference: str
    table: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame] = field(default_factory=dict)
    per_run: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    level: Level = "event"

    @property
    def metrics(self) -> list[str]:
        return metric_names([self.k])


def _breakdown(snapshot: ResultsSnapshot, results: DatasetResults, kind: str,
               k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    entry = BREAKDOWNS[kind]
    summary = breakdown(results, kind, [k], snapshot.popularity)
    if summary.empty:
        raise ValueError("no events in any group")
    per_run = []
    for run_id in snapshot.runs:
        if run_id in snapshot.frames:
            frame = snapshot.frames[run_id]
            table = entry.table(frame, [k], _compat(frame, snapshot.settings), snapshot.popularity).reset_index()
            per_run.append(table.assign(run_id=run_id, model=snapshot.rows[run_id]["model"]))
    runs = pd.concat(per_run, ignore_index=True)
    last_group = runs["group"].max()
    runs["label"] = [entry.group_label(row, last_group) for _, row in runs.iterrows()]
    sizes = runs.drop_duplicates(["model", "group"])[["model", "group", "label", *GROUP_SIZE_COLUMNS]]
    return summary.drop(columns="n_events").merge(sizes, on=["model", "group"], how="left"), runs


def analyse(snapshot: ResultsSnapshot, k: int, reference: str | None, progress: ProgressCallback,
            cancel: CancelToken, level: Level = "event", breakdowns_of: ResultsView | None = None) -> ResultsView:
    """Comparison and breakdowns at cut-off ``k`` (``reference`` None: RNN, else the first model),
    the Wilcoxon tests paired by ``level``. The breakdowns (which depend on neither the reference
    nor the level) are taken from ``breakdowns_of`` when that is a view of the same snapshot and K."""
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
        notes.extend(f"{entry.title}: no events to show" for entry in BREAKDOWNS if entry.name not in view.breakdowns)
        return view
    for index, entry in enumerate(BREAKDOWNS):
        cancel.raise_if_cancelled()
        progress((index + 1) / (len(BREAKDOWNS) + 1), entry.title.lower())
        try:
            view.breakdowns[entry.name], view.per_run[entry.name] = _breakdown(snapshot, results, entry.name, k)
        except (WorkbenchError, ValueError, KeyError) as exc:
            log.warning("breakdown %s not computed: %s", entry.name, exc)
            notes.append(f"{entry.title}: no events to show")
    return view


def set_dataset_candidates(url: str, dataset_id: int, n_candidates: int | None, progress: ProgressCallback,
                           cancel: CancelToken) -> None:
    """Change the dataset's evaluation setting (see :func:`engine.storage.catalog.set_evaluation_candidates`)."""
    with Workspace(url) as workspace:
        catalog.set_evaluation_candidates(workspace, dataset_id, n_candidates)


def evaluate_runs(url: str, dataset_id: int, run_ids: list[int], progress: ProgressCallback,
                  cancel: CancelToken, tie_mode: TieMode = DEFAULT_TIE_MODE) -> int:
    """Evaluate runs of the dataset under its evaluation setting with ``tie_mode`` (in a child
    process: the scoring holds the interpreter); returns how many were evaluated. Every evaluation
    stores its tie counts, so its ranks serve every tie mode afterwards."""
    with Workspace(url) as workspace:
        prepared = catalog.load_prepared(workspace, dataset_id)
        settings = dataset_settings(workspace, dataset_id, dataclasses.replace(SETTINGS, tie_mode=tie_mode))
        for index, run_id in enumerate(run_ids):
            cancel.raise_if_cancelled()
            share = scaled(progress, index / len(run_ids), (index + 1) / len(run_ids))
            evaluate_run(workspace, run_id, settings, share, cancel, prepared)
    return len(run_ids)
