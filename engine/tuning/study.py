"""A study: what it searches (stored with it, so that any worker that joins reads it there), its
budget, and claiming its next trial.

The budget is a number of trials that did not fail (a failed trial, one whose worker died or was
cancelled, is retried with the same settings) and/or a deadline after which no trial starts. A
worker claims a trial under the study's lock: it first marks the trials of dead workers failed,
then takes a retry waiting in the queue, or asks the sampler for a new trial while the budget
allows. Two workers asking at once therefore never run more trials than the budget, nor the same
trial twice.

Pruning (:func:`make_pruner`): by default Optuna's :class:`~optuna.pruners.HyperbandPruner` with
epochs as the resource (multi-fidelity tuning). The resource levels, the *rungs*, are
``min_resource * reduction_factor**r`` epochs for r = 0, 1, ... up to the epochs a trial trains at
most (``max_resource``); with the defaults (1 and 3) and 10 epochs: 1, 3 and 9 epochs. Hyperband
runs ``n`` brackets of successive halving (:func:`hyperband_brackets`); bracket s judges its trials
at rungs s, s + 1, ...; at each rung a trial goes on only when its validation score is among the
best ``1/reduction_factor`` of the trials of its bracket that reached that rung. A trial is only
ever pruned right after the epoch of a rung, so **a trial pruned at rung r trained exactly
``min_resource * reduction_factor**r`` epochs** (:func:`rung_epochs`) and was scored on the
validation sample after each of them: that is all it cost. The best configuration is only ever
taken from a trial that completed (never a pruned one), and is retrained in full (see
:func:`engine.workbench.tuning.best_configuration`). The most exploratory bracket starts
``reduction_factor**(n - 1)`` trials so that one of them reaches the full epochs
(:func:`bracket_trials`): what a time budget should at least buy a network. The median rule
(``median``) and no pruning (``none``) remain; a study keeps the pruner it was created with."""
from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from engine.errors import InputError, NotFoundError
from engine.evaluation.ranking import DEFAULT_TIE_MODE, TieMode
from engine.evaluation.ties import tie_mode_phrase
from engine.storage.workspace import Workspace
from engine.tuning.storage import storage_exists, study_lock, study_storage
from engine.tuning.validation import DEFAULT_VALIDATION_USERS

#: The user attribute holding a study's :class:`StudySpec`.
SPEC_ATTR = "workbench"
#: The user attribute of a trial that says where its settings came from ("defaults": the first trial).
ORIGIN_ATTR = "origin"
#: Its value on the study's first trial, queued with the model's default preset.
DEFAULTS_ORIGIN = "defaults"
#: Sampling strategies a study may use.
SAMPLERS = ("tpe", "random")
#: Pruning rules: Hyperband over epochs (the default), the median rule (a trial below the median of
#: earlier trials at the same epoch stops), or none.
PRUNERS = ("hyperband", "median", "none")
#: The pruner of a new study unless the request names another.
DEFAULT_PRUNER = "hyperband"
#: The pruner of a study stored before studies recorded theirs (the default then).
LEGACY_PRUNER = "median"
#: Hyperband's smallest resource: the epochs of its first rung.
HYPERBAND_MIN_EPOCHS = 1
#: Hyperband's reduction factor: each rung trains this many times the epochs of the one before,
#: and keeps the best 1/this of the trials that reach it.
HYPERBAND_REDUCTION_FACTOR = 3
#: Trials drawn at random before TPE models the results (and before the median rule prunes).
STARTUP_TRIALS = 5
#: Epochs always trained before the median rule may prune a trial.
WARMUP_EPOCHS = 2
#: How often a trial whose worker died is retried with the same settings.
MAX_RETRIES = 2
#: The tie mode of a study stored before studies recorded theirs.
LEGACY_TIE_MODE: TieMode = "standard"
#: Epochs without a better validation score after which a trial stops (0: never).
DEFAULT_PATIENCE = 3


@dataclass(frozen=True)
class StudySpec:
    """What a study searches and how: stored with the study. ``fixed``: settings every trial
    shares (e.g. ``epochs``, the most a trial trains); ``seed``: the seed every trial trains
    with, so that two trials differ by their settings only; ``validation_users``: the size of the
    fixed sample each epoch is scored on (None: every validation user); ``tie_mode``: how the
    validation ranks count ties (a study stored before it was recorded scored with optimistic
    ties, "standard"). Budget: ``n_trials`` trials that did not fail and/or no trial started after
    ``deadline`` (unix seconds). ``min_resource``, ``reduction_factor`` and ``max_resource`` are
    the Hyperband pruner's epochs (``max_resource``: the epochs a trial trains at most; None for a
    model without epochs, which Hyperband never prunes)."""

    name: str
    dataset_id: int
    dataset_name: str
    model: str
    metric: str
    sampler: str = "tpe"
    pruner: str = DEFAULT_PRUNER
    patience: int = DEFAULT_PATIENCE
    fixed: dict[str, Any] = field(default_factory=dict)
    validation_users: int | None = DEFAULT_VALIDATION_USERS
    sample_seed: int = 0
    seed: int = 0
    device: str = "auto"
    n_trials: int | None = None
    deadline: float | None = None
    tie_mode: TieMode = DEFAULT_TIE_MODE
    min_resource: int = HYPERBAND_MIN_EPOCHS
    reduction_factor: int = HYPERBAND_REDUCTION_FACTOR
    max_resource: int | None = None

    @property
    def hyperband(self) -> bool:
        """Whether Hyperband prunes this study's trials (a network's study with the hyperband pruner)."""
        return self.pruner == "hyperband" and self.max_resource is not None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudySpec:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{"tie_mode": LEGACY_TIE_MODE, "pruner": LEGACY_PRUNER,
                      **{key: value for key, value in data.items() if key in known}})

    def describe_budget(self) -> str:
        parts = []
        if self.n_trials is not None:
            parts.append(f"{self.n_trials} trials")
        if self.deadline is not None:
            parts.append(f"until {time.strftime('%Y-%m-%d %H:%M', time.localtime(self.deadline))}")
        return " or ".join(parts) or "no budget"


def find_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study | None:
    """The study ``name`` in ``storage`` (no sampler or pruner: for reading), or None."""
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None


def study_spec(study: optuna.Study) -> StudySpec:
    """The spec stored with a study; :class:`InputError` for a study this program did not create."""
    data = study.user_attrs.get(SPEC_ATTR)
    if not isinstance(data, dict):
        raise InputError(f"study {study.study_name!r} was not created by HRNN Workbench: it says nothing of its "
                         "dataset and model")
    return StudySpec.from_json(data)


def require_study(storage: optuna.storages.BaseStorage, name: str) -> tuple[optuna.Study, StudySpec]:
    study = find_study(storage, name)
    if study is None:
        known = [summary.study_name for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        listed = f" (the studies: {', '.join(known)})" if known else ""
        raise NotFoundError(f"no study named {name!r} in this workspace{listed}; start one with: "
                            "python main.py tune DATASET --model MODEL --study NAME")
    return study, study_spec(study)


def check_same_search(existing: StudySpec, wanted: StudySpec) -> None:
    """A study keeps its dataset, model, metric and tie mode: resuming it with others is refused."""
    if existing.tie_mode != wanted.tie_mode:
        raise InputError(f"study {existing.name!r} scored its trials with {tie_mode_phrase(existing.tie_mode)}, "
                         f"and its scores cannot be compared with {tie_mode_phrase(wanted.tie_mode)}; choose another "
                         "study name to tune again")
    for attribute, what in (("dataset_id", "dataset"), ("model", "model"), ("metric", "metric")):
        have, want = getattr(existing, attribute), getattr(wanted, attribute)
        if have != want:
            shown = {"dataset_id": (existing.dataset_name, wanted.dataset_name)}.get(attribute, (have, want))
            raise InputError(f"study {existing.name!r} exists for {what} {shown[0]!r}, not {shown[1]!r}; choose "
                             "another study name")


def save_spec(study: optuna.Study, spec: StudySpec) -> None:
    study.set_user_attr(SPEC_ATTR, spec.to_json())


def make_sampler(spec: StudySpec, seed: int | None) -> optuna.samplers.BaseSampler:
    """TPE (its first :data:`STARTUP_TRIALS` trials at random; running trials of other workers
    are taken as bad results so that workers do not draw the same point) or random search."""
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(n_startup_trials=STARTUP_TRIALS, seed=seed, constant_liar=True)


def hyperband_brackets(min_resource: int, max_resource: int, reduction_factor: int) -> int:
    """The brackets Optuna's HyperbandPruner runs: floor(log_eta(max / min)) + 1 (its own formula,
    so that the count agrees with it)."""
    return math.floor(math.log(max_resource / min_resource, reduction_factor)) + 1


def rung_epochs(spec: StudySpec, rung: int) -> int:
    """The epochs of rung ``rung``: what a trial pruned there trained, ``min_resource *
    reduction_factor**rung``."""
    return spec.min_resource * spec.reduction_factor ** rung


def rungs(spec: StudySpec) -> list[int]:
    """The epochs of every rung of a Hyperband study (empty for another pruner): [1, 3, 9] for 10 epochs."""
    if not spec.hyperband:
        return []
    assert spec.max_resource is not None
    return [rung_epochs(spec, rung) for rung in
            range(hyperband_brackets(spec.min_resource, spec.max_resource, spec.reduction_factor))]


def rung_of(spec: StudySpec, epochs: int) -> int | None:
    """The last rung a trial that trained ``epochs`` epochs reached (None: none, or no Hyperband)."""
    reached = [rung for rung, needed in enumerate(rungs(spec)) if epochs >= needed]
    return reached[-1] if reached else None


def bracket_trials(spec: StudySpec) -> int | None:
    """The trials one Hyperband bracket needs: its most exploratory bracket starts
    ``reduction_factor**(n - 1)`` trials at the first rung so that, keeping the best
    ``1/reduction_factor`` at each rung, one reaches the last (9 with 3 rungs and a factor 3;
    Optuna allots it the same share). None for a study Hyperband does not prune."""
    levels = rungs(spec)
    return spec.reduction_factor ** (len(levels) - 1) if levels else None


def describe_pruner(spec: StudySpec) -> str:
    """The study's pruning in words: 'hyperband pruning (rungs at 1, 3 and 9 epochs, the best 1/3 go
    on; a bracket needs 9 trials)', 'median pruning', 'no pruning'."""
    if spec.pruner == "hyperband" and not spec.hyperband:
        return "no pruning (scored once)"
    if spec.hyperband:
        levels = [str(epochs) for epochs in rungs(spec)]
        listed = levels[0] if len(levels) == 1 else f"{', '.join(levels[:-1])} and {levels[-1]}"
        return (f"hyperband pruning (rung{'s' if len(levels) > 1 else ''} at {listed} epoch"
                f"{'s' if levels != ['1'] else ''} of {spec.max_resource}, the best 1/{spec.reduction_factor} "
                f"go on; a bracket needs {bracket_trials(spec)} trials)")
    return "no pruning" if spec.pruner == "none" else f"{spec.pruner} pruning"


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    """The study's pruner: Hyperband over its epochs, the median rule, or none (a study of a
    model without epochs is scored once: nothing to prune)."""
    if spec.pruner == "hyperband":
        if spec.max_resource is None:
            return optuna.pruners.NopPruner()
        return optuna.pruners.HyperbandPruner(min_resource=spec.min_resource, max_resource=spec.max_resource,
                                              reduction_factor=spec.reduction_factor)
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=WARMUP_EPOCHS)


def open_for_work(storage: optuna.storages.BaseStorage, name: str, seed: int | None) -> tuple[optuna.Study, StudySpec]:
    """The study with the sampler and pruner its spec names."""
    _, spec = require_study(storage, name)
    study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(spec, seed),
                              pruner=make_pruner(spec))
    return study, spec


def studies_at_work(workspace: Workspace, dataset_id: int) -> list[str]:
    """The studies of a dataset that a live worker is working on: a running trial whose
    heartbeat is within the grace period (nothing is created)."""
    if not storage_exists(workspace):
        return []
    names = []
    with study_storage(workspace, write=False) as storage:
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            data = summary.user_attrs.get(SPEC_ATTR)
            if not isinstance(data, dict) or data.get("dataset_id") != dataset_id:
                continue
            study_id = storage.get_study_id_from_name(summary.study_name)
            running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
            if len(running) > len(storage._get_stale_trial_ids(study_id)):  # optuna's own test of a dead worker
                names.append(summary.study_name)
    return names


def live_trials(trials: list[FrozenTrial]) -> int:
    """Trials that count against the budget: every trial but the failed ones (they are retried)."""
    return sum(trial.state != TrialState.FAIL for trial in trials)


def budget_left(spec: StudySpec, trials: list[FrozenTrial], now: float | None = None) -> bool:
    """Whether the budget allows a new trial (retries waiting in the queue aside)."""
    now = time.time() if now is None else now
    if spec.deadline is not None and now >= spec.deadline:
        return False
    return spec.n_trials is None or live_trials(trials) < spec.n_trials


def budget_fraction(spec: StudySpec, trials: list[FrozenTrial], started: float, now: float | None = None) -> float:
    """How much of the budget is spent, in [0, 1]: finished trials, or the time to the deadline."""
    now = time.time() if now is None else now
    parts = []
    if spec.n_trials:
        done = sum(trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in trials)
        parts.append(done / spec.n_trials)
    if spec.deadline is not None:
        parts.append((now - started) / max(spec.deadline - started, 1e-9))
    return min(max(parts, default=0.0), 1.0)


def claim_trial(workspace: Workspace, storage: optuna.storages.RDBStorage,
                study: optuna.Study) -> tuple[optuna.Trial | None, list[FrozenTrial]]:
    """The worker's next trial (None: the budget is spent or the deadline passed) and the trials
    of dead workers marked failed on the way (each retried with its settings; their runs are to be
    marked failed, outside the lock). The spec is read afresh: a resumed study may have a new budget."""
    with study_lock(workspace, study.study_name), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # study.ask outside study.optimize warns that heartbeats are meant for optimize; this loop
        # records them itself (TrialHeartbeat)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        stale = _fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        spec = study_spec(study)
        waiting = any(trial.state == TrialState.WAITING for trial in trials)
        if (spec.deadline is not None and time.time() >= spec.deadline) or not (waiting or budget_left(spec, trials)):
            return None, stale
        claimed = study.ask()
        # a worker that dies before its first heartbeat would leave a trial running for ever
        storage.record_heartbeat(trial_id(storage, study, claimed.number))
        return claimed, stale


def _fail_stale(study: optuna.Study) -> list[FrozenTrial]:
    """Mark the running trials of dead workers failed and queue a retry of each (under the lock)."""
    running = {trial.number for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    optuna.storages.fail_stale_trials(study)
    stale = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
             if trial.number in running]
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
    for dead in stale:
        retry(study, dead)
    return stale


def fail_stale_trials(workspace: Workspace, study: optuna.Study) -> list[FrozenTrial]:
    """The trials of dead workers (no heartbeat for the grace period) marked failed, each retried
    with its settings, as a worker does before claiming a trial; returns them (their runs are to
    be marked failed, outside the lock)."""
    with study_lock(workspace, study.study_name), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return _fail_stale(study)


def trial_id(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> int:
    """The storage's id of the study's trial ``number`` (what heartbeats are recorded under)."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name), number)


def fail_and_retry(workspace: Workspace, study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Mark a trial that did not run to its end (cancelled) failed, and queue a retry of its
    settings, under the lock (the budget never sees one without the other)."""
    with study_lock(workspace, study.study_name), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        trial.set_user_attr("reason", reason)
        frozen = study.tell(trial, state=TrialState.FAIL)
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)(study, frozen)


def trial_value(trial: FrozenTrial) -> float:
    """A finished trial's score (NaN when it has none)."""
    value = trial.value if trial.state == TrialState.COMPLETE else None
    if value is None and trial.intermediate_values:
        value = max(trial.intermediate_values.values())
    return float(value) if value is not None and math.isfinite(value) else math.nan
