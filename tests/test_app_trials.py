"""Tuning trials belong to their study (issue 23, item 8): grouped under the study in the workspace
browser, collapsed, with short labels ("trial 2 of RNN study"), apart from the runs the analyst
trained; the runs table lists them only on demand; an early stop is a status, not an error; and
deleting a study deletes its trials."""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from engine.runs import records
from engine.runs.planning import plan_runs
from engine.workbench.studies import study_groups, study_title, trial_status
from tests.app_support import opened, save_screenshot, wait_for_overview, wait_idle

STOPPED = "stopped early at epoch 4: no better score for 3 epochs (best 0.2100 at epoch 1)"
PRUNED = "pruned at epoch 2: recall@5 0.0100 on the validation sample, below the median of earlier trials"


def fake_trials(workspace, dataset_id: int, study: str, model: str, outcomes: list[str]) -> list[int]:
    """Trial runs of ``study`` (nothing trained) that ended as ``outcomes`` says: "finished",
    "stopped" (early, finished), "pruned" or "failed"."""
    run_ids = []
    for outcome in outcomes:
        (run_id,) = plan_runs(workspace, dataset_id, model, [0], overrides={"epochs": 5}, validation=True,
                              study=study)
        records.start_run(workspace, run_id, "cpu")
        if outcome == "stopped":  # as a trial stopped by its patience records it: failed with the reason,
            records.fail_run(workspace, run_id, STOPPED)
            records.finish_run(workspace, run_id, None)  # then finished with its best epoch's checkpoint
        elif outcome == "finished":
            records.finish_run(workspace, run_id, None)
        else:
            records.fail_run(workspace, run_id, PRUNED if outcome == "pruned" else "diverged: the loss is NaN")
        run_ids.append(run_id)
    return run_ids


def test_study_titles_and_trial_statuses() -> None:
    assert study_title("tune-3-rnn", "rnn") == "RNN study"
    assert study_title("compare-12-hrnn-init", "hrnn-init") == "HRNN Init study of comparison #12"
    assert study_title("mine", "rnn") == "RNN study 'mine'"


def test_trials_are_grouped_under_their_study_and_deleted_with_it(window, qtbot, monkeypatch) -> None:
    dataset_id = window.browser.dataset_ids()[0]
    with opened(window) as workspace:
        (own,) = plan_runs(workspace, dataset_id, "pop", [0])
        trials = fake_trials(workspace, dataset_id, f"tune-{dataset_id}-rnn", "rnn",
                             ["finished", "stopped", "pruned", "failed", "finished"])
        compared = fake_trials(workspace, dataset_id, "compare-4-hrnn-init", "hrnn-init", ["finished", "stopped"])
    window.refresh()
    wait_for_overview(qtbot, window, lambda overview: len(overview.runs) == 8)
    browser = window.browser
    dataset_item = browser.topLevelItem(0)
    children = [dataset_item.child(i) for i in range(dataset_item.childCount())]
    assert [child.text(0) for child in children] == [
        browser.item_text("run", own), "RNN study: 5 trials", "HRNN Init study of comparison #4: 2 trials"]
    study_item = children[1]
    assert not study_item.isExpanded()  # collapsed at first
    labels = [study_item.child(i).text(0) for i in range(study_item.childCount())]
    assert labels == [f"trial {n} of RNN study" for n in range(5)]
    assert max(len(label) for label in labels) < 40  # short, whatever the trial's settings
    with opened(window) as workspace:
        runs = {run.id: run for run in records.list_runs(workspace)}
    assert [trial_status(runs[run_id]).status for run_id in trials] == [
        "finished", "stopped early", "pruned", "failed", "finished"]
    assert trial_status(runs[trials[1]]).error == "" and "no better score" in trial_status(runs[trials[1]]).reason
    study_item.setExpanded(True)
    window.tabs.setCurrentWidget(window.training_panel)
    table = window.training_panel.runs_view
    qtbot.waitUntil(lambda: table.run_ids() == [own], timeout=10_000)  # the analyst's runs only
    table.trials.setChecked(True)
    assert sorted(table.run_ids()) == sorted([own, *trials, *compared])
    assert table.cell_text(trials[1], "Status") == "stopped early" and table.cell_text(trials[1], "Error") == ""
    assert table.cell_text(trials[2], "Status") == "pruned"
    assert table.cell_text(trials[3], "Error") == "diverged: the loss is NaN"
    assert table.cell_text(trials[4], "Run") == f"#{trials[4]} trial 4 of RNN study"
    save_screenshot(window, "trials_grouped")
    table.trials.setChecked(False)
    monkeypatch.setattr(QMessageBox, "question", lambda *_args, **_kwargs: QMessageBox.StandardButton.Yes)
    browser.setCurrentItem(study_item)
    browser.request_delete()
    wait_for_overview(qtbot, window, lambda overview: len(overview.runs) == 3)
    with opened(window) as workspace:
        left = records.list_runs(workspace)
    assert {run.id for run in left} == {own, *compared}
    assert [group.name for group in study_groups(left)] == ["compare-4-hrnn-init"]
    wait_idle(qtbot, window)
