"""Ids are never given twice (issue 20, H1): a deleted run's, dataset's or comparison's id is not a
new one's, through deletion and compaction; a study or comparison whose runs were deleted says so
and never follows an id to another run; ``--save-preset`` saves the trial's own settings."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.cli.main import main
from engine.runs import records
from engine.runs.saved_presets import list_saved_presets
from engine.storage.workspace import Workspace
from engine.tuning.comparisons import create_comparison, get_comparison, list_comparisons
from engine.workbench.managing import compact_workspace, delete_runs
from engine.workbench.tuning import TuningRequest, best_configuration, prepare_study, run_study, study_view
from tests.test_postgresql import postgres_url  # noqa: F401 (a fixture)

NEVER_REUSED = ("logs", "datasets", "runs", "evaluations", "comparisons")


def _run(workspace: Workspace, dataset_id: int, study: str | None = None) -> int:
    return records.create_run(workspace, dataset_id, "pop", {"model": "pop"}, 0, study=study)


def test_a_deleted_id_is_never_given_again_even_after_compacting(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    first, second = _run(workspace, dataset_id), _run(workspace, dataset_id)
    comparison = create_comparison(workspace, dataset_id, ["pop"], "recall@5", {})
    delete_runs(workspace, [second])
    with workspace.session() as session:
        session.execute(text(f"DELETE FROM comparisons WHERE id = {comparison}"))
    compact_workspace(workspace)
    assert _run(workspace, dataset_id) == second + 1 and first == second - 1
    assert create_comparison(workspace, dataset_id, ["pop"], "recall@5", {}) == comparison + 1


def test_every_referred_table_is_autoincrement_in_new_and_upgraded_workspaces(tmp_path: Path) -> None:
    from alembic import command

    from engine.storage.workspace import _alembic_config

    old = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{old}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0011")
    engine.dispose()
    for path in (tmp_path / "new.sqlite", old):
        with Workspace(path) as workspace, workspace.engine.connect() as connection:
            created = dict(connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all())
        assert all("AUTOINCREMENT" in created[name] for name in NEVER_REUSED), path
        assert "CHECK (status IN ('queued'" in created["runs"] and "'interrupted'" in created["comparisons"]


def test_an_upgrade_keeps_every_child_row_of_the_rebuilt_tables(tmp_path: Path) -> None:
    from alembic import command

    from engine.storage.workspace import _alembic_config

    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        command.upgrade(_alembic_config(connection), "0011")
        connection.execute(text("INSERT INTO logs (id, name, source_path, digest, mapping_key, file_format, "
                                "column_mapping, event_types, n_events, n_users, n_items, imported_at) VALUES "
                                "(1, 'n', 'p', 'd', 'm', '{}', '{}', '[]', 0, 0, 0, '2026-01-01')"))
        connection.execute(text("INSERT INTO datasets (id, name, log_id, settings_key, settings, statistics, "
                                "created_at) VALUES (1, 'old data', 1, 'k', '{}', '{}', '2026-01-01')"))
        connection.execute(text("INSERT INTO runs (id, dataset_id, model, config, seed, validation, code_version, "
                                "status, created_at) VALUES (7, 1, 'pop', '{}', 0, 0, 'x', 'finished', '2026-01-01')"))
        connection.execute(text("INSERT INTO run_metrics (run_id, key, step, value) VALUES (7, 'train_loss', 1, 0.5)"))
        connection.execute(text("INSERT INTO evaluations (id, run_id, settings_key, settings, metrics, n_events, "
                                "seconds, created_at) VALUES (3, 7, 'k', '{}', '{}', 1, 1, '2026-01-01')"))
        connection.execute(text("INSERT INTO event_ranks (evaluation_id, idx, user, session, position, "
                                "session_length, history_length, item, rank) VALUES (3, 0, 1, 1, 1, 1, 1, 1, 1.0)"))
    engine.dispose()
    with Workspace(path) as workspace, workspace.engine.connect() as connection:
        counts = {name: connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
                  for name in ("runs", "run_metrics", "evaluations", "event_ranks", "datasets", "logs")}
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert set(counts.values()) == {1}, counts
    with Workspace(path) as workspace:
        assert _run(workspace, 1) == 8


def test_a_study_whose_best_run_was_deleted_says_so_and_keeps_its_settings(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, TuningRequest(dataset_id, "item-knn", 2, sampler="random", study="knn"))
    run_study(workspace, spec.name)
    best = best_configuration(workspace, "knn")
    delete_runs(workspace, [trial.run_id for trial in study_view(workspace, "knn").trials])
    view = study_view(workspace, "knn")
    assert all(trial.run_deleted for trial in view.trials)
    again = best_configuration(workspace, "knn")
    assert again.config == best.config and f"its run #{best.trial.run_id} was deleted" in again.note


def test_a_run_of_another_study_under_the_trials_id_is_not_followed(small_dataset) -> None:
    """A workspace upgraded after its ids were reused: the id names a run of another study."""
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, TuningRequest(dataset_id, "item-knn", 1, sampler="random", study="knn"))
    (trial,) = run_study(workspace, spec.name).view.trials
    with workspace.session() as session:
        session.execute(text(f"UPDATE runs SET study = 'someone else', config = '{{\"model\": \"pop\"}}' "
                             f"WHERE id = {trial.run_id}"))
    best = best_configuration(workspace, "knn")
    assert study_view(workspace, "knn").trials[0].run_deleted
    assert best.config["model"] == "item-knn" and best.config["n_neighbors"] == trial.params["n_neighbors"]


def test_a_comparison_whose_runs_were_deleted_says_so(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    comparison = create_comparison(workspace, dataset_id, ["pop"], "recall@5", {})
    kept, deleted = _run(workspace, dataset_id, f"compare-{comparison}"), _run(workspace, dataset_id,
                                                                                f"compare-{comparison}")
    with workspace.session() as session:
        session.execute(text(f"UPDATE comparisons SET best_runs = '{{\"pop\": {{\"runs\": [{kept}, {deleted}], "
                             f"\"trial_run\": null}}}}' WHERE id = {comparison}"))
    delete_runs(workspace, [deleted])
    assert get_comparison(workspace, comparison).deleted_runs == (deleted,)
    assert list_comparisons(workspace, dataset_id)[0].deleted_runs == (deleted,)


def test_the_reproduction_saves_the_tuned_models_settings(small_dataset, capsys) -> None:
    """The issue's reproduction: tune, delete the study's runs, train another model, tune again
    with --save-preset: the preset holds the tuned model's settings, and the output says the best
    trial's run was deleted."""
    workspace, dataset_id = small_dataset
    common = ["--workspace", str(workspace.file_path)]
    assert main(["tune", "small", "--model", "item-knn", "--trials", "2", "--sampler", "random", *common]) == 0
    trials = study_view(workspace, f"tune-{dataset_id}-item-knn").trials
    assert main(["runs", "delete", *[str(trial.run_id) for trial in trials], "--yes", *common]) == 0
    assert main(["train", "small", "--model", "pop", *common]) == 0
    capsys.readouterr()
    assert main(["tune", "small", "--model", "item-knn", "--trials", "2", "--save-preset", "tuned", *common]) == 0
    out = capsys.readouterr().out
    best = max(trials, key=lambda trial: trial.value)
    assert f"its run #{best.run_id} was deleted" in out
    ((name, model, config),) = list_saved_presets(workspace)
    assert (name, model, config["n_neighbors"]) == ("tuned", "item-knn", best.params["n_neighbors"])


@pytest.mark.slow
def test_postgresql_never_reuses_an_id_either(postgres_url: str) -> None:  # noqa: F811
    with Workspace(postgres_url) as workspace:
        with workspace.session() as session:
            session.execute(text("INSERT INTO logs (name, source_path, digest, mapping_key, file_format, "
                                 "column_mapping, event_types, n_events, n_users, n_items, imported_at) VALUES "
                                 "('n', 'p', 'd', 'm', '{}', '{}', '[]', 0, 0, 0, '2026-01-01')"))
            session.execute(text("INSERT INTO datasets (name, log_id, settings_key, settings, statistics, "
                                 "created_at) SELECT 'd', id, 'k', '{}', '{}', '2026-01-01' FROM logs"))
        with workspace.engine.connect() as connection:
            dataset_id = int(connection.execute(text("SELECT id FROM datasets")).scalar_one())
        last = _run(workspace, dataset_id)
        delete_runs(workspace, [last])
        assert _run(workspace, dataset_id) == last + 1
        comparison = create_comparison(workspace, dataset_id, ["pop"], "recall@5", {})
        with workspace.session() as session:
            session.execute(text(f"UPDATE comparisons SET status = 'interrupted' WHERE id = {comparison}"))
