"""The Tuning dialog: a study's trials plotted live with the best so far, the parameter importances,
the best configuration saved as a preset, tuning and a fair comparison started from the dialog as
jobs of the status bar."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.jobs import JobManager
from app.tuning.tuning_dialog import TuningDialog
from engine.runs.saved_presets import list_saved_presets
from engine.workbench.tuning import TuningRequest, prepare_study, run_study
from tests.app_support import save_screenshot


@pytest.fixture
def jobs(qtbot):
    manager = JobManager()
    yield manager
    assert manager.shutdown()


def _dialog(qtbot, workspace, dataset_id, jobs) -> TuningDialog:
    dialog = TuningDialog(workspace.url, dataset_id, jobs, "small")
    qtbot.addWidget(dialog)
    dialog.resize(1280, 720)
    dialog.show()
    return dialog


def test_the_dialog_shows_a_study_its_importances_and_saves_the_best_as_a_preset(qtbot, app_settings, small_dataset,
                                                                              jobs) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, TuningRequest(dataset_id, "rnn", 4, fixed={"epochs": 2}, study="rnn-study",
                                                  pruner="none", patience=0, device="cpu", validation_users=30))
    run_study(workspace, spec.name)
    dialog = _dialog(qtbot, workspace, dataset_id, jobs)
    qtbot.waitUntil(lambda: dialog.view is not None and bool(dialog.importances), timeout=30_000)
    assert dialog.study_combo.currentData() == "rnn-study"
    assert dialog.trials_plot.points("complete") == 4 and dialog.trials_table.rowCount() == 4
    assert dialog.trials_table.item(3, 0).text() == "0" and dialog.trials_table.item(3, 6).text().startswith(
        "the defaults: batch_size=50")
    assert dialog.trials_table.item(3, 4).text() == "2 epochs"  # no pruner: no rungs, the epochs it trained
    assert not dialog.trials_plot.empty_text.isVisible() and not dialog.importances_plot.empty_text.isVisible()
    best = dialog.view.best
    assert f"trial {best.number}, recall@5 {best.value:.4f}" in dialog.best_label.text()
    assert set(dialog.importances) <= set(best.params) and dialog.importances_plot.names
    assert dialog.preset_button.isEnabled() and dialog.preset_name.text() == f"tuned-rnn-{dataset_id}"
    dialog.preset_name.setText("best-rnn")
    qtbot.mouseClick(dialog.preset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved the best configuration" in dialog.status.text(), timeout=10_000)
    assert [(name, model) for name, model, _ in list_saved_presets(workspace)] == [("best-rnn", "rnn")]
    save_screenshot(dialog, "tuning_dialog")


def test_the_dialog_shows_each_trials_rung(qtbot, app_settings, small_dataset, jobs, monkeypatch) -> None:
    from engine.tuning import worker as worker_module

    workspace, dataset_id = small_dataset
    # by epoch: trial 0 (3 epochs) leads bracket 0, trial 1 (3 epochs) bracket 1, trial 2 falls below trial 0
    scores = iter([0.5, 0.4, 0.3, 0.1, 0.05, 0.04, 0.03])
    monkeypatch.setattr(worker_module, "network_score", lambda *args, **kwargs: next(scores))
    # study "hb": trial 0 in Hyperband's bracket 0 (rungs at 1 and 3 epochs), trial 1 in bracket 1 (at 3)
    spec = prepare_study(workspace, TuningRequest(dataset_id, "rnn", 3, fixed={"epochs": 3}, study="hb",
                                                  sampler="random", patience=0, device="cpu", validation_users=30))
    assert spec.pruner == "hyperband"
    run_study(workspace, spec.name)
    dialog = _dialog(qtbot, workspace, dataset_id, jobs)
    qtbot.waitUntil(lambda: dialog.view is not None and dialog.trials_table.rowCount() == 3, timeout=30_000)
    rows = {dialog.trials_table.item(row, 0).text(): [dialog.trials_table.item(row, column).text()
                                                       for column in range(dialog.trials_table.columnCount())]
            for row in range(3)}
    assert dialog.trials_table.horizontalHeaderItem(4).text() == "rung"
    assert rows["0"][1:5] == ["complete", "0.5000", "1", "1 (3 epochs)"]
    assert rows["1"][1] == "complete" and rows["1"][4] == "1 (3 epochs)"  # bracket 1's first trial leads it
    assert rows["2"][1:5] == ["pruned", "0.0300", "", "0 (1 epoch)"]  # below trial 0 at rung 0
    assert rows["2"][6].startswith("pruned at rung 0 (1 epoch)")
    assert "hyperband pruning (rungs at 1 and 3 epochs of 3" in dialog.best_label.toolTip()


def test_tuning_without_a_tunable_model_says_so(qtbot, app_settings, small_dataset, jobs) -> None:
    workspace, dataset_id = small_dataset
    dialog = _dialog(qtbot, workspace, dataset_id, jobs)
    assert dialog.trials_plot.empty_text.isVisible() and "No study yet" in dialog.trials_plot.empty_text.text()
    assert dialog.importances_plot.empty_text.isVisible()
    dialog.set_checked_models(["pop"])
    qtbot.mouseClick(dialog.tune_button, Qt.MouseButton.LeftButton)
    assert "at least one model with settings to tune" in dialog.status.text() and dialog.work is None
    dialog.set_checked_models([])
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    assert "Check the models to compare" in dialog.status.text() and dialog.work is None


def test_a_read_back_asked_for_while_one_runs_follows_it(qtbot, app_settings, small_dataset, jobs) -> None:
    """The last read after tuning must not be dropped because a periodic read was still running
    (the dialog kept showing a trial short)."""
    import threading

    workspace, dataset_id = small_dataset
    dialog = _dialog(qtbot, workspace, dataset_id, jobs)
    release, seen = threading.Event(), []

    def slow(progress, cancel):
        release.wait(10)
        return "first"

    dialog._read("probe", slow, seen.append)
    dialog._read("probe", lambda progress, cancel: "second", seen.append)
    dialog._read("probe", lambda progress, cancel: "third", seen.append)  # replaces the waiting one
    release.set()
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    assert seen == ["first", "third"]


@pytest.mark.slow
def test_tune_then_compare_from_the_dialog(qtbot, app_settings, small_dataset, jobs) -> None:
    workspace, dataset_id = small_dataset
    dialog = _dialog(qtbot, workspace, dataset_id, jobs)
    dialog.set_checked_models(["item-knn"])
    dialog.budget_value.setValue(2)
    qtbot.mouseClick(dialog.tune_button, Qt.MouseButton.LeftButton)
    assert dialog.work is not None and [job.title for job in jobs.running_jobs() if job.visible] == [
        "Tuning Item-KNN on small"]
    qtbot.waitUntil(lambda: dialog.work is None, timeout=120_000)
    qtbot.waitUntil(lambda: dialog.view is not None and dialog.view.count("complete") == 2, timeout=20_000)
    assert dialog.study_combo.currentData() == f"tune-{dataset_id}-item-knn"
    dialog.set_checked_models(["pop", "item-knn"])
    dialog.budget_value.setValue(1)
    dialog.seeds.setValue(1)
    qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.work is None, timeout=180_000)
    assert "Best: " in dialog.verdict.toPlainText() and "Comparison #1" in dialog.verdict.toPlainText()


def test_the_training_menu_opens_tuning_for_the_selected_dataset(window, qtbot) -> None:
    dataset_id = window.browser.dataset_ids()[0]
    window.browser.select("dataset", dataset_id)
    action = next(action for menu in window.menuBar().findChildren(type(window.menuBar().actions()[0].menu()))
                  for action in menu.actions() if action.text() == "&Tune and compare models…")
    action.trigger()
    dialog = window.tuning_dialog
    assert dialog is not None and dialog.isVisible() and dialog.dataset_id == dataset_id
    assert dialog.checked_models() == ["rnn", "hrnn-init"]
    save_screenshot(dialog, "tuning_dialog_from_menu")
    window.close()
    assert not dialog.isVisible()


@pytest.mark.slow
def test_a_cancelled_comparison_is_resumed_from_the_dialog(qtbot, app_settings, small_dataset, jobs) -> None:
    import functools

    from engine.errors import Cancelled
    from engine.progress import CancelToken
    from engine.tuning.comparisons import get_comparison
    from engine.workbench.compare import CompareRequest, compare, load_comparisons
    from engine.workbench.managing import delete_runs

    workspace, dataset_id = small_dataset
    cancel = CancelToken()
    request = CompareRequest(dataset_id, ("pop", "item-knn"), n_trials=2, seeds=1, validation_users=30)
    with pytest.raises(Cancelled):
        compare(workspace, request, cancel=cancel, on_trial=lambda model, trial: cancel.cancel())
    dialog = _dialog(qtbot, workspace, dataset_id, jobs)
    qtbot.waitUntil(lambda: dialog.resume_button.isVisible(), timeout=20_000)
    assert dialog.resume_button.text() == "Resume comparison #1" and "was cancelled" in dialog.resume_button.toolTip()
    qtbot.mouseClick(dialog.resume_button, Qt.MouseButton.LeftButton)
    assert dialog.work is not None and dialog.work.title == "Resuming comparison #1 on small"
    qtbot.waitUntil(lambda: dialog.work is None, timeout=180_000)
    assert "Comparison #1" in dialog.verdict.toPlainText() and get_comparison(workspace, 1).status == "finished"
    qtbot.waitUntil(lambda: not dialog.resume_button.isVisible(), timeout=20_000)
    delete_runs(workspace, [get_comparison(workspace, 1).best_runs["pop"]["runs"][0]])
    dialog._read("comparisons", functools.partial(load_comparisons, workspace.url, dataset_id),
                 dialog._on_comparisons)
    qtbot.waitUntil(lambda: "of this comparison have been deleted since" in dialog.verdict.toPlainText(),
                    timeout=20_000)
