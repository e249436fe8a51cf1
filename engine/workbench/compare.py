"""A fair verdict in one call: every chosen model is tuned with the same budget on the validation
split (one study each), its best configuration is trained with several seeds on the full training
split and evaluated on the test split, and the comparison table (significance against RNN), the
breakdowns and a verdict in plain sentences follow. The comparison is stored with its verdict; its
test runs are named after it ("HRNN Init, tuned #3") and carry its name as their study, which is
how the Results panel tells tuned rows from preset rows.

A model with nothing to tune (Pop) is trained with its preset; a model none of whose trials
completed is trained with its preset too, and the verdict says so."""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.errors import Cancelled, InputError, NotFoundError, WorkbenchError
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import DEFAULT_CUTOFFS, parse_metric_name
from engine.progress import CancelToken, ProgressCallback, no_progress, scaled
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run, find_run_evaluation
from engine.runs.labels import model_label
from engine.runs.models import MODELS, build_config, model_entry
from engine.runs.records import create_run, get_run
from engine.storage import catalog
from engine.storage.catalog import now_utc
from engine.storage.workspace import Workspace
from engine.tuning.comparisons import (
    RESUMABLE,
    STALE_AFTER_S,
    ComparisonRecord,
    comparison_heartbeat,
    create_comparison,
    end_comparison,
    final_runs_study,
    find_resumable,
    list_comparisons,
    model_study,
    request_key,
    resume_comparison,
    save_progress,
)
from engine.workbench.parallel_runs import execute_runs_in_parallel
from engine.workbench.results import collect_results, comparison, protocol_text
from engine.workbench.run_messages import RunMessage
from engine.workbench.tuning import (
    DEFAULT_PATIENCE,
    DEFAULT_PRUNER,
    DEFAULT_VALIDATION_USERS,
    LEGACY_PRUNER,
    TrialOutcome,
    TuningRequest,
    best_configuration,
    bracket_trials,
    check_fixed_memory,
    check_request,
    check_workers,
    fail_dead_trials,
    prepare_study,
    run_study,
    rungs,
    study_view,
)
from engine.workbench.verdict import Verdict, build_verdict

log = logging.getLogger(__name__)

#: Share of the progress bar for tuning (the rest: training and evaluating the best configurations).
TUNING_SHARE = 0.7


@dataclass(frozen=True)
class CompareRequest:
    """What to compare and with which budget. ``models``: registered model names (empty: every
    registered model); budget per model: ``n_trials`` trials and/or ``seconds`` of tuning;
    ``seeds``: seeds of each network's final training (a baseline is deterministic: one run);
    ``fixed``: settings every trial of every model that has them shares (e.g. ``epochs``)."""

    dataset: str | int
    models: tuple[str, ...] = ()
    n_trials: int | None = None
    seconds: float | None = None
    seeds: int = 5
    workers: int = 1
    metric: str = "recall@5"
    sampler: str = "tpe"
    pruner: str = DEFAULT_PRUNER
    patience: int = DEFAULT_PATIENCE
    fixed: dict[str, Any] = field(default_factory=dict)
    validation_users: int | None = DEFAULT_VALIDATION_USERS
    device: str = "auto"
    search_seed: int | None = None  # seed of the samplers (worker i: seed + i); None: random


@dataclass(frozen=True)
class ModelResult:
    """One model of a comparison: its study and best trial (None when it was not tuned, with the
    ``note`` saying why), the configuration its test runs trained with, and those runs."""

    model: str
    label: str
    study: str | None
    best_trial: TrialOutcome | None
    config: dict[str, Any]
    run_ids: tuple[int, ...]
    note: str = ""


@dataclass(frozen=True, eq=False)
class CompareOutcome:
    """A finished comparison: the table (mean ± std over seeds at every K, Wilcoxon p-values and
    marks against ``reference``), the verdict and what it cost."""

    comparison_id: int
    dataset_id: int
    dataset_name: str
    metric: str
    ks: tuple[int, ...]
    reference: str
    table: pd.DataFrame
    models: tuple[ModelResult, ...]
    verdict: Verdict
    seconds: float
    n_trials: int
    protocol: str = ""  # the ranking protocol in words (candidates, tie handling)
    resumed: bool = False  # it continued a comparison cancelled or interrupted earlier


def _fixed_for(model: str, fixed: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(model_entry(model).config_type)}
    return {key: value for key, value in fixed.items() if key in names}


def _tuning_request(request: CompareRequest, dataset_id: int, model: str, study: str | None) -> TuningRequest:
    return TuningRequest(dataset_id, model, request.n_trials, request.seconds, request.metric, study, request.sampler,
                         request.pruner, request.patience, _fixed_for(model, request.fixed), request.validation_users,
                         request.device)


def _check(workspace: Workspace, request: CompareRequest, models: list[str]) -> tuple[int, str]:
    """Every refusal before anything is stored; returns the dataset's id and name."""
    parse_metric_name(request.metric)
    if request.seeds < 1:
        raise InputError(f"--seeds must be at least 1, not {request.seeds}")
    if request.workers < 1:
        raise InputError(f"a comparison needs at least 1 worker, not {request.workers}")
    if not models:
        raise InputError("no models to compare")
    unused = set(request.fixed) - {key for model in models for key in _fixed_for(model, request.fixed)}
    if unused:
        raise InputError(f"no chosen model has the setting {', '.join(sorted(unused))}")
    dataset = catalog.get_dataset(workspace, request.dataset)
    dataset_id, dataset_name = dataset.id, dataset.name
    check_workers(workspace, dataset_id, request.workers)
    for model in models:
        tuning = _tuning_request(request, dataset_id, model, None)
        if model_entry(model).search_space:  # the same refusals as tune
            check_request(tuning)
        check_fixed_memory(workspace, dataset_id, tuning)
    return dataset_id, dataset_name


def _duration(seconds: float) -> str:
    """'4 h 02 min', '12 min 30 s', '45 s'."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _budget_text(request: CompareRequest) -> str:
    parts = []
    if request.n_trials is not None:
        parts.append(f"{request.n_trials} trials")
    if request.seconds is not None:
        parts.append(_duration(request.seconds))
    return " or ".join(parts)


def request_fields(request: CompareRequest, dataset_id: int, models: list[str]) -> dict[str, Any]:
    """What makes two comparisons the same one (the workers and the samplers' seed aside)."""
    return {"dataset": dataset_id, "models": models, "trials": request.n_trials, "seconds": request.seconds,
            "seeds": request.seeds, "metric": request.metric, "sampler": request.sampler, "pruner": request.pruner,
            "patience": request.patience, "fixed": dict(request.fixed), "validation_users": request.validation_users,
            "device": request.device}


def resumable_request(record: ComparisonRecord) -> CompareRequest | None:
    """The request that resumes a cancelled, interrupted or failed comparison (running it again
    continues it); None for one that cannot be resumed (finished, running, or stored before
    comparisons recorded their request)."""
    if record.status not in RESUMABLE or not record.request_key:
        return None
    fields = json.loads(record.request_key)
    return CompareRequest(int(fields["dataset"]), tuple(fields["models"]), fields["trials"], fields["seconds"],
                          int(fields["seeds"]), int(record.budget.get("workers") or 1), fields["metric"],
                          fields["sampler"], fields["pruner"], int(fields["patience"]), dict(fields["fixed"]),
                          fields["validation_users"], fields["device"])


def _start_or_resume(workspace: Workspace, request: CompareRequest, models: list[str], dataset_id: int,
                     budget: dict[str, Any]) -> tuple[int, dict[str, dict[str, Any]], float | None, CompareRequest]:
    """The comparison to work on: the same one cancelled or interrupted earlier (resumed: its id,
    its progress and the seconds it already took), or a new one (None seconds); and the request
    it goes on with. A running one is refused. A comparison stored when the median rule was the
    default is the same one as a request that names no pruner: it resumes with the median rule,
    its studies unchanged."""
    original = request
    key = request_key(request_fields(request, dataset_id, models))
    existing = find_resumable(workspace, dataset_id, key)
    if existing is None and request.pruner == DEFAULT_PRUNER:
        legacy = dataclasses.replace(request, pruner=LEGACY_PRUNER)
        legacy_key = request_key(request_fields(legacy, dataset_id, models))
        existing = find_resumable(workspace, dataset_id, legacy_key)
        if existing is not None:
            key, request = legacy_key, legacy
    if existing is not None and existing.status == "running":
        silent = (now_utc() - existing.heartbeat_at).total_seconds() if existing.heartbeat_at else 0.0
        raise InputError(f"comparison #{existing.id} of these models with this budget is running on this dataset "
                         f"(its last heartbeat {silent:.0f} s ago): wait for it to end or cancel it first; if its "
                         f"process died, it is taken for interrupted {STALE_AFTER_S:.0f} s after its last heartbeat "
                         "and can then be resumed")
    if existing is not None and resume_comparison(workspace, existing.id, budget):
        log.info("resuming comparison #%d (%s)", existing.id, existing.status)
        return existing.id, dict(existing.best_runs), existing.seconds or 0.0, request
    key = request_key(request_fields(original, dataset_id, models))
    return create_comparison(workspace, dataset_id, models, original.metric, budget, key), {}, None, original


def compare(workspace: Workspace, request: CompareRequest, progress: ProgressCallback = no_progress,
            cancel: CancelToken | None = None, send: Callable[[RunMessage], None] | None = None,
            on_trial: Callable[[str, TrialOutcome], None] | None = None,
            on_start: Callable[[int, bool], None] | None = None) -> CompareOutcome:
    """Tune, train, evaluate and judge (see the module docstring). ``send`` hears the final runs'
    messages, ``on_trial(model, trial)`` every tuning trial, ``on_start(comparison id, resumed)``
    which comparison it works on. The same comparison (dataset, models,
    budget, seeds and search settings) cancelled, interrupted or failed earlier is resumed: its
    tuned models are not tuned again, its studies continue and its finished final runs are kept.
    A running comparison sends a heartbeat; cancelling marks it cancelled."""
    cancel = cancel or CancelToken()
    models = [entry.name for entry in MODELS if entry.name in set(request.models)] if request.models \
        else list(MODELS.names())
    for model in request.models:
        model_entry(model)
    dataset_id, dataset_name = _check(workspace, request, models)
    budget = {"trials": request.n_trials, "seconds": request.seconds, "workers": request.workers,
              "seeds": request.seeds, "validation_users": request.validation_users}
    comparison_id, results, earlier, request = _start_or_resume(workspace, request, models, dataset_id, budget)
    started = time.perf_counter() - (earlier or 0.0)
    if on_start is not None:
        on_start(comparison_id, earlier is not None)
    try:
        with comparison_heartbeat(workspace, comparison_id, started):
            outcome = _run(workspace, request, models, dataset_id, dataset_name, comparison_id, started, progress,
                           cancel, send, on_trial, results)
    except Cancelled:
        end_comparison(workspace, comparison_id, "cancelled", time.perf_counter() - started, results)
        raise Cancelled(f"comparison #{comparison_id} cancelled: running the same comparison again resumes it") \
            from None
    except BaseException as exc:
        end_comparison(workspace, comparison_id, "failed", time.perf_counter() - started, results,
                       error=f"{type(exc).__name__}: {exc}" if not isinstance(exc, WorkbenchError) else str(exc))
        raise
    end_comparison(workspace, comparison_id, "finished", outcome.seconds, results, verdict=outcome.verdict.text)
    return dataclasses.replace(outcome, resumed=earlier is not None)


Chosen = tuple[str | None, TrialOutcome | None, dict[str, Any], str]


@dataclass(frozen=True)
class TrialTally:
    """The trials a model's study got: ``finished`` (complete or pruned), of which ``pruned``;
    ``needed``: the trials one Hyperband bracket needs (None: a study Hyperband does not prune),
    whose rungs train ``rung_epochs`` epochs and keep the best 1/``reduction_factor``."""

    finished: int = 0
    pruned: int = 0
    needed: int | None = None
    rung_epochs: tuple[int, ...] = ()
    reduction_factor: int = 0


def _tune(workspace: Workspace, request: CompareRequest, model: str, dataset_id: int, comparison_id: int,
          progress: ProgressCallback, cancel: CancelToken, on_trial: Callable[[str, TrialOutcome], None] | None,
          stored: dict[str, dict[str, Any]]) -> tuple[Chosen, int, TrialTally]:
    """Tune one model (its study resumed when the comparison resumes; not at all when its tuning
    was done) and store the outcome; returns it, the study's number of trials and its tally."""
    name = model_study(comparison_id, model)
    if not stored.get(model, {}).get("tuned"):
        fail_dead_trials(workspace, name)  # of a process that died: retried like a dead worker's
        seconds = _seconds_left(workspace, name, request.seconds)
        if seconds is None or seconds > 0:
            spec = prepare_study(workspace, dataclasses.replace(
                _tuning_request(request, dataset_id, model, name), seconds=seconds))
            run = run_study(workspace, spec.name, request.workers, progress, cancel,
                            on_trial=_for_model(on_trial, model), seed=request.search_seed)
            if run.cancelled:
                raise Cancelled("cancelled by the user")
    n_trials, tally = 0, TrialTally()
    try:
        view = study_view(workspace, name)
        n_trials = len(view.trials)
        tally = TrialTally(view.count("complete") + view.count("pruned"), view.count("pruned"),
                           bracket_trials(view.spec), tuple(rungs(view.spec)), view.spec.reduction_factor)
        best = best_configuration(workspace, name)
    except (InputError, NotFoundError):  # no trial completed, or none started before the time was up
        chosen: Chosen = (name, None, {}, "no trial completed: its preset")
    else:
        config = {key: value for key, value in best.config.items() if key not in ("model", "device")}
        chosen = (name, best.trial, config, "")
        log.info("%s: best trial %d of %s, %s %.4f", model, best.trial.number, name, request.metric, best.trial.value)
    stored[model] = {"study": name, "trial_run": chosen[1].run_id if chosen[1] else None, "runs": [],
                     "config": chosen[2], "note": chosen[3], "tuned": True}
    save_progress(workspace, comparison_id, stored)
    return chosen, n_trials, tally


def _seconds_left(workspace: Workspace, study: str, seconds: float | None) -> float | None:
    """What is left of a time budget after the study's trials so far (None: a trial budget)."""
    if seconds is None:
        return None
    try:
        trials = study_view(workspace, study).trials
    except NotFoundError:
        return seconds
    spans = [(trial.started_at, trial.ended_at or trial.started_at) for trial in trials
             if trial.started_at is not None]
    if not spans:
        return seconds
    return seconds - (max(end for _, end in spans) - min(start for start, _ in spans))


def _final_runs(workspace: Workspace, request: CompareRequest, model: str, dataset_id: int, comparison_id: int,
                chosen: Chosen, previous: list[int]) -> list[int]:
    """The final runs of a model: those planned before that are still there (finished or queued;
    failed or cancelled ones queued again), and a new run for each seed that has none."""
    _, best_trial, config, _ = chosen
    entry = model_entry(model)
    kept = [get_run(workspace, run_id) for run_id in
            sorted(records.runs_of_study(workspace, previous, final_runs_study(comparison_id)))]
    for run in kept:
        if run.status in records.RETRYABLE:
            records.requeue_run(workspace, run.id)
    overrides = {**config, **({"device": request.device} if entry.neural else {})}
    preset = f"tuned #{comparison_id}" if best_trial is not None else entry.default_preset
    planned = {run.seed: run.id for run in kept}
    for seed in (range(request.seeds) if entry.neural else range(1)):
        if seed not in planned:
            built = build_config(model, None, overrides, seed)
            planned[seed] = create_run(workspace, dataset_id, model, dataclasses.asdict(built), seed, preset=preset,
                                       study=final_runs_study(comparison_id))
    return [planned[seed] for seed in sorted(planned)]


def _run(workspace: Workspace, request: CompareRequest, models: list[str], dataset_id: int, dataset_name: str,
         comparison_id: int, started: float, progress: ProgressCallback, cancel: CancelToken,
         send: Callable[[RunMessage], None] | None, on_trial: Callable[[str, TrialOutcome], None] | None,
         stored: dict[str, dict[str, Any]]) -> CompareOutcome:
    records.mark_stale_runs_failed(workspace)
    tuned = [model for model in models if model_entry(model).search_space]
    chosen: dict[str, Chosen] = {}
    n_trials = 0
    tallies: dict[str, TrialTally] = {}
    for model in models:
        if model not in tuned:
            chosen[model] = (None, None, {}, "nothing to tune: its preset")
            continue
        share = scaled(progress, TUNING_SHARE * tuned.index(model) / len(tuned),
                       TUNING_SHARE * (tuned.index(model) + 1) / len(tuned))
        share(0.0, f"tuning {model_entry(model).label}")
        chosen[model], count, tallies[model] = _tune(workspace, request, model, dataset_id, comparison_id, share,
                                                     cancel, on_trial, stored)
        n_trials += count
    run_ids: list[int] = []
    planned: dict[str, list[int]] = {}
    for model in models:
        previous = [int(run_id) for run_id in stored.get(model, {}).get("runs") or ()]
        planned[model] = _final_runs(workspace, request, model, dataset_id, comparison_id, chosen[model], previous)
        run_ids += planned[model]
        study, best_trial, config, note = chosen[model]
        trial_run = best_trial.run_id if best_trial else None
        stored[model] = {**stored.get(model, {}), "study": study, "trial_run": trial_run,
                         "runs": planned[model], "config": config, "note": note}
    save_progress(workspace, comparison_id, stored)
    progress(TUNING_SHARE, "training the best configurations")
    _, k = parse_metric_name(request.metric)
    ks = tuple(sorted({*DEFAULT_CUTOFFS, k}))
    settings = dataset_settings(workspace, dataset_id, EvaluationSettings(ks=ks))
    queued = [run_id for run_id in run_ids if get_run(workspace, run_id).status == "queued"]
    finished = execute_runs_in_parallel(workspace, queued, request.workers, send or (lambda message: None), cancel)
    if any(run.status == "cancelled" for run in finished) or cancel.cancelled:
        raise Cancelled("cancelled by the user")
    _evaluate_missing(workspace, [run_id for run_id in run_ids if run_id not in queued], cancel)
    progress(0.95, "comparison and verdict")
    results = collect_results(workspace, dataset_id, settings, run_ids=run_ids)
    if results.runs.empty:
        raise WorkbenchError("no final run finished and was evaluated: no verdict (see the runs' errors)")
    table = comparison(results, ks)
    labels = {model: _label(workspace, ids) for model, ids in planned.items()}
    seconds = time.perf_counter() - started
    verdict = build_verdict(results, request.metric, _spent(request, chosen, planned, workspace, n_trials, seconds,
                                                                tallies))
    outcome_models = tuple(ModelResult(model, labels[model], chosen[model][0], chosen[model][1], chosen[model][2],
                                       tuple(planned[model]), chosen[model][3]) for model in models)
    progress(1.0, "done")
    return CompareOutcome(comparison_id, dataset_id, dataset_name, request.metric, ks, str(table["reference"].iloc[0]),
                          table, outcome_models, verdict, seconds, n_trials, protocol_text(settings))


def _evaluate_missing(workspace: Workspace, run_ids: list[int], cancel: CancelToken) -> None:
    """Evaluate the finished final runs of a resumed comparison that were not evaluated (their
    process died in between)."""
    for run_id in run_ids:
        run = get_run(workspace, run_id)
        settings = dataset_settings(workspace, run.dataset_id)
        if run.status == "finished" and find_run_evaluation(workspace, run, settings) is None:
            try:
                evaluate_run(workspace, run_id, settings, cancel=cancel)
            except WorkbenchError as exc:
                log.warning("run %d could not be evaluated: %s", run_id, exc)


def _for_model(on_trial: Callable[[str, TrialOutcome], None] | None,
               model: str) -> Callable[[TrialOutcome], None] | None:
    if on_trial is None:
        return None

    def announce(trial: TrialOutcome) -> None:
        on_trial(model, trial)

    return announce


def _label(workspace: Workspace, run_ids: list[int]) -> str:
    return model_label(get_run(workspace, run_ids[0]))


def trials_sentences(request: CompareRequest, tallies: dict[str, TrialTally]) -> list[str]:
    """How many trials each tuned model got, in one sentence ("Trials: RNN 9 (5 pruned), SKNN
    140."), and, for each network Hyperband prunes that got fewer than one bracket needs, why."""
    if not tallies:
        return []
    label = {model: model_entry(model).label for model in tallies}
    counts = ", ".join(f"{label[model]} {tally.finished}" + (f" ({tally.pruned} pruned)" if tally.pruned else "")
                       for model, tally in tallies.items())
    sentences = [f"Trials: {counts}."]
    for model, tally in tallies.items():
        if tally.needed is None or tally.finished >= tally.needed:
            continue
        got = f"{tally.finished} trial{'s' if tally.finished != 1 else ''}"
        if request.seconds is not None:
            why = f"the {_duration(request.seconds)} budget ran out after {got}"
        elif request.n_trials is not None and request.n_trials < tally.needed:
            why = f"the budget of {request.n_trials} trials is smaller"
        else:  # trials that failed (a worker died) and were not run again
            why = f"only {tally.finished} of its {request.n_trials} trials finished"
        levels = [str(epochs) for epochs in tally.rung_epochs]
        listed = levels[0] if len(levels) == 1 else f"{', '.join(levels[:-1])} and {levels[-1]}"
        sentences.append(f"{label[model]} got {got}, fewer than the {tally.needed} one Hyperband bracket needs "
                         f"(rungs at {listed} epochs, the best 1/{tally.reduction_factor} going on at each): {why}, "
                         f"so its tuning is thin (a longer budget, or --trials {tally.needed}, buys a bracket).")
    return sentences


def _spent(request: CompareRequest, chosen: dict[str, tuple[str | None, TrialOutcome | None, dict[str, Any], str]],
           planned: dict[str, list[int]], workspace: Workspace, n_trials: int, seconds: float,
           tallies: dict[str, TrialTally] | None = None) -> list[str]:
    """The verdict's last sentences: what was not tuned, what failed, how many trials each model
    got (and why a network got fewer than a Hyperband bracket), and what was spent."""
    label = {model: model_entry(model).label for model in chosen}
    untuned = [label[model] for model, (study, _, _, _) in chosen.items() if study is None]
    sentences = []
    if untuned:
        sentences.append(f"{', '.join(untuned)} {'has' if len(untuned) == 1 else 'have'} no settings to tune: "
                         f"{'its preset' if len(untuned) == 1 else 'their presets'}.")
    for model, (study, trial, _, _) in chosen.items():
        if study is not None and trial is None:
            sentences.append(f"No trial of {label[model]} completed within the budget: it ran with its preset.")
    for model, ids in planned.items():
        failed = [run for run in (get_run(workspace, run_id) for run_id in ids) if run.status != "finished"]
        if failed:
            sentences.append(f"{len(failed)} of {len(ids)} final runs of {label[model]} failed ({failed[0].error}); "
                             "the table leaves them out.")
    sentences += trials_sentences(request, tallies or {})
    workers = f"{request.workers} worker{'s' if request.workers != 1 else ''}"
    sentences.append(f"Each model was tuned with the same budget, {_budget_text(request)}, on the validation split "
                     f"({workers}, {n_trials} trials in all), then trained with {request.seeds} seed"
                     f"{'s' if request.seeds != 1 else ''} (baselines: one, they are deterministic) and evaluated on "
                     f"the test split; the comparison took {_duration(seconds)}.")
    return sentences


# ----- for the desktop app's background jobs: the workspace by its URL -----

def compare_in_background(url: str, request: CompareRequest, progress: ProgressCallback,
                          cancel: CancelToken) -> CompareOutcome:
    """:func:`compare` in the workspace at ``url`` (run it in a child process: training holds the
    interpreter)."""
    with Workspace(url, create=False) as workspace:
        return compare(workspace, request, progress, cancel)


def load_comparisons(url: str, dataset_id: int, progress: ProgressCallback,
                     cancel: CancelToken) -> list[ComparisonRecord]:
    """The dataset's stored comparisons, newest first (their verdicts)."""
    with Workspace(url, create=False) as workspace:
        return list_comparisons(workspace, dataset_id)
