"""Tuning studies as the shells list them: the runs a study's trials trained (on the validation
split) grouped under their study with short labels ("trial 7 of RNN study"), apart from the runs
the analyst trained; a trial that stopped early or was pruned has that as its status, not as an
error; and deleting a study deletes its trials (runs, metrics, checkpoints) and the study itself."""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from engine.errors import InputError, WorkspaceError
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs import records
from engine.runs.models import MODELS
from engine.storage.workspace import Workspace
from engine.tuning.comparisons import running_comparisons
from engine.tuning.storage import storage_exists, study_storage
from engine.tuning.study import studies_at_work
from engine.workbench.managing import DeletionOutcome, DeletionPlan, delete_runs, plan_run_deletion

__all__ = ["StudyGroup", "TrialStatus", "delete_studies", "is_trial", "plan_study_deletion", "study_groups",
           "study_title", "trial_status"]

log = logging.getLogger(__name__)

TUNE_PREFIX, COMPARE_PREFIX = "tune-", "compare-"


def is_trial(run: records.RunSummary) -> bool:
    """Whether the run is a tuning trial (trained on the validation split by a study)."""
    return run.validation and bool(run.study)


def study_title(name: str, model: str) -> str:
    """How people call a study: "RNN study" (``tune`` names one study per dataset and model), "RNN
    study of comparison #3" (a fair comparison's), else "RNN study 'name'"."""
    label = MODELS[model].label if model in MODELS else model
    parts = name.split("-")
    if name.startswith(COMPARE_PREFIX) and len(parts) > 2 and parts[1].isdigit():
        return f"{label} study of comparison #{parts[1]}"
    if name.startswith(TUNE_PREFIX) and len(parts) > 2 and parts[1].isdigit() and "-".join(parts[2:]) == model:
        return f"{label} study"
    return f"{label} study '{name}'"


@dataclass(frozen=True)
class StudyGroup:
    """One study's trials among a workspace's runs: ``run_ids`` in the order they were created (the
    order of the trials, with one worker)."""

    name: str
    dataset_id: int
    model: str
    title: str
    run_ids: tuple[int, ...]

    def trial_number(self, run_id: int) -> int:
        """The trial's number (0: the study's first trial, the model's defaults)."""
        return self.run_ids.index(run_id)

    def trial_label(self, run_id: int) -> str:
        """"trial 7 of RNN study"."""
        return f"trial {self.trial_number(run_id)} of {self.title}"


def study_groups(runs: Sequence[records.RunSummary]) -> list[StudyGroup]:
    """The studies of ``runs`` (a workspace's, oldest first) with their trials, in the order of
    their first trial."""
    groups: dict[tuple[int, str], list[records.RunSummary]] = {}
    for run in sorted(runs, key=lambda r: r.id):
        if is_trial(run):
            groups.setdefault((run.dataset_id, str(run.study)), []).append(run)
    return [StudyGroup(name, dataset_id, trials[0].model, study_title(name, trials[0].model),
                       tuple(run.id for run in trials)) for (dataset_id, name), trials in groups.items()]


@dataclass(frozen=True)
class TrialStatus:
    """What a listing shows of a run: its ``status`` in words ("stopped early", "pruned" for a
    trial that stopped as tuning meant it to), ``reason`` (why it stopped, for a tooltip) and the
    ``error`` (empty unless something went wrong)."""

    status: str
    reason: str
    error: str


def trial_status(run: records.RunSummary) -> TrialStatus:
    """A trial stopped early (no better score for some epochs, or the study's time up) is finished,
    and one pruned below the median of earlier trials is pruned: statuses, not errors."""
    error = run.error or ""
    if is_trial(run) and error.startswith("stopped") and run.status == "finished":
        return TrialStatus("stopped early", error, "")
    if is_trial(run) and error.startswith("pruned") and run.status == "failed":
        return TrialStatus("pruned", error, "")
    return TrialStatus(run.status, "", error)


def _study_runs(workspace: Workspace, names: Sequence[str]) -> list[records.RunSummary]:
    return [run for run in records.list_runs(workspace) if is_trial(run) and run.study in names]


def _refusal(workspace: Workspace, names: Sequence[str], runs: list[records.RunSummary]) -> str | None:
    """Why the studies cannot be deleted now: a worker tunes one of them, or a comparison running on
    their dataset uses them."""
    for dataset_id in sorted({run.dataset_id for run in runs}):
        try:
            working = set(studies_at_work(workspace, dataset_id)) & set(names)
        except WorkspaceError as exc:
            log.warning("cannot look at the studies: %s", exc)
            working = set()
        if working:
            return f"study '{sorted(working)[0]}' is tuning; cancel it first"
        for comparison in running_comparisons(workspace, dataset_id):
            if any(name.startswith(f"{COMPARE_PREFIX}{comparison}-") for name in names):
                return f"comparison #{comparison} is running and uses it; cancel it first"
    return None


def plan_study_deletion(workspace: Workspace, names: Sequence[str]) -> DeletionPlan:
    """What deleting studies removes: their trials' runs (metrics, checkpoints) and the studies."""
    runs = _study_runs(workspace, names)
    plural = len(names) != 1
    what = f"{len(names)} studies" if plural else (f"the {study_title(names[0], runs[0].model)}" if runs
                                                   else f"study '{names[0]}'")
    if runs:
        plan = plan_run_deletion(workspace, [run.id for run in runs])
        parts = (f"the {'studies' if plural else 'study'} (its trials' settings and scores)", *plan.parts)
    else:
        parts = (f"the {'studies' if plural else 'study'} (its trials' settings and scores)",)
    refusal = _refusal(workspace, names, runs) or (plan.refusal if runs else None)
    dataset = runs[0].dataset_id if runs else None
    return DeletionPlan(what, parts, refusal=refusal, dataset_id=dataset, run_ids=tuple(run.id for run in runs))


def delete_studies(workspace: Workspace, names: Sequence[str], progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None) -> DeletionOutcome:
    """Delete the studies ``names`` and their trials' runs; refuses while one is at work."""
    began = time.perf_counter()
    runs = _study_runs(workspace, names)
    refusal = _refusal(workspace, names, runs)
    if refusal is not None:
        raise InputError(f"not deleted: {refusal}")
    outcome = delete_runs(workspace, [run.id for run in runs], progress, cancel) if runs else None
    if storage_exists(workspace):
        with study_storage(workspace) as storage:
            for name in names:
                try:
                    optuna.delete_study(study_name=name, storage=storage)
                except KeyError:
                    log.info("study %s was not stored (only its runs were)", name)
    what = f"{len(names)} studies" if len(names) != 1 else f"study '{names[0]}'"
    log.info("deleted %s with %d trial runs", what, len(runs))
    return DeletionOutcome(what, len(runs), outcome.files if outcome is not None else 0, 0,
                           time.perf_counter() - began)
