"""Worker processes sharing a study: two on a SQLite workspace and two on a PostgreSQL server end
with every trial run exactly once; a worker killed mid-trial leaves the study usable, its trial
marked failed and queued again."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from engine.runs import records
from engine.storage.workspace import MIGRATIONS_DIR, Workspace
from engine.tuning.storage import OPTUNA_SCHEMA, open_study_storage
from engine.tuning.study import find_study, save_spec, study_spec
from engine.workbench.tuning import (
    StudyView,
    TuningRequest,
    prepare_study,
    run_study,
    run_worker,
    study_view,
    worker_command,
)
from tests.test_postgresql import postgres_url  # noqa: F401 - the throw-away server fixture

TRIALS = 6


def _request(dataset: str | int, **changes) -> TuningRequest:
    base = TuningRequest(dataset, "rnn", TRIALS, fixed={"epochs": 3, "n_extra_negatives": 0}, study="shared",
                         pruner="none", patience=0, device="cpu", validation_users=30)
    return dataclasses.replace(base, **changes)


def _assert_each_trial_once(workspace: Workspace, view: StudyView, n_trials: int) -> None:
    """No trial lost, none run twice: trials 0..n-1 all ended, one run each, and no other run."""
    assert [t.number for t in view.trials] == list(range(n_trials))
    assert all(t.state in ("complete", "pruned") for t in view.trials), [(t.state, t.reason) for t in view.trials]
    run_ids = [t.run_id for t in view.trials]
    assert None not in run_ids and len(set(run_ids)) == n_trials
    study_runs = [run for run in records.list_runs(workspace) if run.study == view.spec.name]
    assert sorted(run.id for run in study_runs) == sorted(run_ids)
    assert all(run.validation and run.status == "finished" for run in study_runs)


@pytest.mark.slow
def test_two_worker_processes_on_a_sqlite_workspace(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id))
    run = run_study(workspace, spec.name, workers=2, in_process=False)
    assert not run.cancelled and not run.worker_errors
    _assert_each_trial_once(workspace, run.view, TRIALS)
    assert len({t.worker for t in run.view.trials}) == 2  # both processes ran trials


@pytest.mark.slow
def test_two_worker_processes_on_a_postgresql_workspace(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    from engine.cli.main import main
    from tests.logs import session_rows, write_csv

    rows: list[tuple] = []
    for user in range(30):
        for index in range(6):
            rows += session_rows(f"u{user}", 1_500_000_000 + index * 100_000, ["a", "b", "c", f"x{user % 5}", "d"])
    assert main(["import", str(write_csv(tmp_path / "team.csv", rows)), "--min-item-support", "1", "--name",
                 "team-tuning", "--workspace", postgres_url]) == 0
    with Workspace(postgres_url) as workspace:
        spec = prepare_study(workspace, _request("team-tuning", study="shared-pg"))
        run = run_study(workspace, spec.name, workers=2, in_process=False)
        assert not run.worker_errors
        _assert_each_trial_once(workspace, run.view, TRIALS)
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        schemas = dict(connection.execute(text(
            "SELECT table_name, table_schema FROM information_schema.tables WHERE table_name IN "
            "('trials', 'studies', 'runs', 'datasets') OR table_name = 'alembic_version'")).all())
        versions = {schema: connection.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalar()
                    for schema in ("public", OPTUNA_SCHEMA)}
    engine.dispose()
    assert schemas["trials"] == schemas["studies"] == OPTUNA_SCHEMA
    assert schemas["runs"] == schemas["datasets"] == "public"
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert versions["public"] == head and versions[OPTUNA_SCHEMA] != head  # each its own migrations


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_its_trial_failed_and_the_study_usable(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id, n_trials=2, fixed={"epochs": 400}, study="killed"))
    worker = subprocess.Popen(worker_command(workspace.url, spec.name), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until its first trial has trained an epoch
            runs = [run for run in records.list_runs(workspace) if run.study == "killed"]
            if runs and len(records.metric_series(workspace, runs[0].id, "train_loss")[0]):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the worker never started training")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert [t.state for t in study_view(workspace, "killed").trials] == ["running"]
    time.sleep(1.5)  # past the grace period of the worker that looks next
    study = find_study(open_study_storage(workspace, create=False), "killed")
    save_spec(study, dataclasses.replace(study_spec(study), fixed={"epochs": 1, "n_extra_negatives": 0}))
    outcomes = run_worker(workspace, "killed", grace_period_s=1)
    trials = study_view(workspace, "killed").trials
    assert [t.state for t in trials] == ["failed", "complete", "complete"]
    assert trials[1].params == trials[0].params and len(outcomes) == 2  # the killed trial's settings again
    killed_run = records.get_run(workspace, trials[0].run_id)
    assert killed_run.status == "failed" and "its worker stopped during trial 0" in killed_run.error
