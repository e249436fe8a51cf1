"""Inspection's attention view for SASRec runs: computed in the background once per run and user,
drawn on the user's timeline across sessions (the bars sum to 1 over the events shown), hidden for
other models, inside the Inspection panel; and a screenshot at 1280 x 720."""
from __future__ import annotations

import numpy as np
import pytest

from app.appearance import apply_appearance
from app.inspection import InspectionPanel
from app.inspection.attention_view import AttentionView
from app.jobs import JobManager
from engine.progress import CancelToken, no_progress
from engine.runs.evaluate_run import evaluate_run
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.workbench.inspection import load_inspection
from engine.workbench.workspaces import workspace_url
from tests.app_support import save_screenshot


@pytest.fixture
def trained(small_dataset):
    """(workspace url, dataset id, {model: run id}) with SASRec, its twin and RNN trained and evaluated."""
    workspace, dataset_id = small_dataset
    runs = {}
    for model, overrides in (("sasrec", {"epochs": 3, "max_length": 12}), ("sasrec-session", {"epochs": 3}),
                             ("rnn", {"epochs": 1, "session_units": 8})):
        (runs[model],) = plan_runs(workspace, dataset_id, model, [0], overrides=overrides, device="cpu")
        assert execute_run(workspace, runs[model]).status == "finished"
        evaluate_run(workspace, runs[model], device="cpu")
    return workspace_url(workspace.url), dataset_id, runs


def bars(view: AttentionView) -> np.ndarray:
    """The attention drawn, as shares (the bars are in percent)."""
    assert view.bars is not None and view.bars in view.plot_item.items
    return np.asarray(view.bars.opts["height"]) / 100.0


def test_the_view_draws_the_attention_of_the_first_sasrec_run(qtbot, qapp, trained) -> None:
    url, dataset_id, runs = trained
    snapshot = load_inspection(url, dataset_id, None, no_progress, CancelToken())
    jobs = JobManager(max_threads=1)
    view = AttentionView(jobs)
    qtbot.addWidget(view)
    user = int(snapshot.users.sort_values("test_length").iloc[-1]["user"])
    view.show_for(url, snapshot, [runs["rnn"]], user, 1)
    assert view.isHidden()  # no SASRec run among the runs shown
    view.show_for(url, snapshot, [runs["rnn"], runs["sasrec"]], user, 2)
    assert not view.isHidden() and "Computing" in view.summary.text()
    qtbot.waitUntil(lambda: (runs["sasrec"], user) in view.results, timeout=30_000)
    heights = bars(view)
    assert heights.sum() == pytest.approx(1.0, abs=1e-6)
    assert len(heights) == int((snapshot.prepared.train.user == user).sum()) + 2  # the history, then 2 test events
    assert not heights[:-12].any()  # only the last L = 12 events carry weight
    assert "Most attended" in view.summary.text() and "step 2" in view.plot_item.titleLabel.text
    view.show_for(url, snapshot, [runs["sasrec"]], user, 1)  # another step: drawn from what is kept
    assert len(bars(view)) == len(heights) - 1 and bars(view).sum() == pytest.approx(1.0, abs=1e-6)
    view.show_for(url, snapshot, [runs["sasrec-session"]], user, 2)
    qtbot.waitUntil(lambda: (runs["sasrec-session"], user) in view.results, timeout=30_000)
    assert len(bars(view)) == 2 and "Past sessions take <b>0%</b>" in view.summary.text()
    jobs.shutdown()


def test_the_inspection_panel_shows_the_attention_of_a_sasrec_run(qtbot, qapp, trained) -> None:
    url, dataset_id, runs = trained
    apply_appearance(qapp)
    panel = InspectionPanel(url)
    qtbot.addWidget(panel)
    panel.resize(1280, 720)
    panel.show()
    panel.set_dataset(dataset_id)
    qtbot.waitUntil(lambda: panel.user is not None and not panel.busy(), timeout=30_000)
    panel.choose_runs([runs["sasrec"], runs["sasrec-session"]])
    user = int(panel.snapshot.users.sort_values("test_length").iloc[-1]["user"])
    assert panel.select_user(user)
    panel.next_step()
    qtbot.waitUntil(lambda: (runs["sasrec"], user) in panel.attention.results and not panel.busy(), timeout=30_000)
    assert not panel.attention.isHidden() and bars(panel.attention).sum() == pytest.approx(1.0, abs=1e-6)
    qtbot.wait(200)
    save_screenshot(panel, "inspection_attention")
    panel.choose_runs([runs["rnn"]])
    assert panel.attention.isHidden()
    panel.shutdown()
