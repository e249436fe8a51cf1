"""SASRec's training and its place in the workbench: windows (every pair once, L-truncation, the
twin's within sessions), left-padded batches, the history the evaluator feeds across sessions, a
checkpoint round-trip, the twin's definition, reproducibility and cancel, runs with every loss, the
attention Inspection shows and Inspection's replay giving the stored ranks."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.errors import Cancelled, CheckpointError, InputError
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.network import RecurrentNetwork
from engine.models.sasrec import SASRecNetwork
from engine.models.sasrec_losses import SEQUENCE_LOSSES
from engine.models.sasrec_scorer import SASRecStreamScorer
from engine.progress import CancelToken
from engine.runs import records
from engine.runs.checkpoints import open_run_checkpoint
from engine.runs.evaluate_run import evaluate_run, load_event_ranks
from engine.runs.execute import execute_run
from engine.runs.models import MODELS, build_config
from engine.runs.planning import plan_runs
from engine.storage.catalog import load_prepared
from engine.training.checkpoint import save_checkpoint
from engine.training.presets import preset
from engine.training.sasrec_checkpoint import load_sasrec_checkpoint, save_sasrec_checkpoint
from engine.training.sasrec_config import SASRecConfig
from engine.training.sasrec_training import (
    TrainingWindows,
    batch_order,
    train_sasrec,
    training_windows,
    window_batch,
)
from engine.tuning import worker as worker_module
from engine.tuning.validation import network_score
from engine.workbench.attention import sasrec_attention
from engine.workbench.inspection import inspect_run_for_user
from engine.workbench.tuning import TuningRequest, prepare_study, run_study

# user 0: sessions [0 1 2] [3 4]; user 1: session [5 6 7 8 9 10]; times in minutes apart within
# sessions, days between them
USERS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
SESSIONS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2])
ITEMS = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
TIMES = np.array([0, 60, 120, 86400, 86460, 0, 10, 20, 30, 40, 50], dtype=float)


def tiny_log() -> SessionLog:
    return SessionLog.from_arrays(USERS, SESSIONS, ITEMS, TIMES, n_users=2, n_items=10)


def pairs_of(windows) -> list[tuple[int, int]]:
    return sorted((event, event + 1) for start, end in zip(windows.input_start, windows.input_end, strict=True)
                  for event in range(start, end))


def test_every_pair_is_in_one_window_of_at_most_l_events_cut_from_the_end() -> None:
    log = tiny_log()
    windows = training_windows(log, sessions_only=False, max_length=2, latest_only=False)
    # user 0 reads across sessions (2 -> 3 is a pair); user 1's 5 pairs: windows [8, 9], [6, 7], [5]
    assert pairs_of(windows) == [(0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10)]
    assert (windows.input_end - windows.input_start).max() == 2
    assert sorted(zip(windows.input_start.tolist(), windows.input_end.tolist(), strict=True)) == \
        [(0, 2), (2, 4), (5, 6), (6, 8), (8, 10)]
    latest = training_windows(log, sessions_only=False, max_length=2, latest_only=True)
    assert sorted(zip(latest.input_start.tolist(), latest.input_end.tolist(), strict=True)) == [(2, 4), (8, 10)]
    # time gaps: the first event of a sequence has none; a session start after a day is bucket 6
    assert windows.gaps[:5].tolist() == [0, 1, 1, 5, 1]


def test_the_twins_windows_never_cross_a_session() -> None:
    windows = training_windows(tiny_log(), sessions_only=True, max_length=50, latest_only=False)
    assert pairs_of(windows) == [(0, 1), (1, 2), (3, 4), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10)]
    assert windows.gaps[3] == 0  # a session's first event has no previous event for the twin


def test_batches_are_left_padded_with_targets_one_event_later() -> None:
    log = tiny_log()
    windows = training_windows(log, sessions_only=False, max_length=3, latest_only=False)
    order = np.argsort(windows.input_start)
    inputs, gaps, targets = window_batch(windows, order[:2], log, pad_item=10)
    assert inputs.tolist() == [[10, 10, 1], [2, 3, 4]]  # window [0, 1) padded to the batch's widest, then [1, 4)
    assert targets.tolist() == [[10, 10, 2], [3, 4, 5]]
    assert gaps.tolist() == [[0, 0, 0], [1, 1, 5]]


def small_config(**changes: object) -> SASRecConfig:
    base = SASRecConfig(hidden_size=16, blocks=1, heads=2, max_length=6, epochs=2, batch_size=8, negatives=20,
                        device="cpu")
    return dataclasses.replace(base, **changes).validate()


@pytest.fixture
def small_train(small_dataset):
    workspace, dataset_id = small_dataset
    return load_prepared(workspace, dataset_id)


def test_same_seed_same_loss_curve_and_cancel(small_train) -> None:
    first = train_sasrec(small_config(), small_train.train)
    second = train_sasrec(small_config(), small_train.train)
    assert first.epoch_losses == second.epoch_losses and len(first.epoch_losses) == 2
    assert first.epoch_losses[1] < first.epoch_losses[0]
    assert first.pairs_per_epoch == int((np.bincount(small_train.train.user) - 1).clip(0).sum())
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        train_sasrec(small_config(), small_train.train, cancel=cancel)


class RecordingScorer(SASRecStreamScorer):
    """Records, at each prediction, the window each asked slot holds (pad dropped)."""

    windows: list[list[int]]

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        pad = self.network.spec.pad_item
        self.windows += [[int(i) for i in self.items[slot] if i != pad] for slot in slots]
        return super().scores(slots)


@pytest.mark.parametrize("model", ["sasrec", "sasrec-session"])
def test_the_evaluator_feeds_the_history_across_sessions_then_the_session(model: str) -> None:
    train = tiny_log()
    # test sessions: user 0 [6 7 8], user 1 [2 3]
    test = SessionLog.from_arrays(np.array([0, 0, 0, 1, 1]), np.array([0, 0, 0, 1, 1]), np.array([6, 7, 8, 2, 3]),
                                  np.array([2e5, 2e5 + 1, 2e5 + 2, 1e5, 1e5 + 1]), n_users=2, n_items=10)
    net = SASRecNetwork(small_config(max_length=4).network_spec(10)).eval()
    scorer = RecordingScorer(net, model)
    scorer.windows = []
    evaluate(scorer, train, test, EvaluationSettings(batch_size=2))
    if model == "sasrec":  # the last 4 events read: history across sessions, then the test prefix
        assert sorted(scorer.windows) == [[3, 4, 5, 6], [4, 5, 6, 7], [9, 0, 1, 2]]
    else:  # the twin reads the test session alone
        assert sorted(scorer.windows) == sorted([[6], [6, 7], [2]])


def test_a_checkpoint_round_trip_gives_the_same_scores(tmp_path, small_train) -> None:
    result = train_sasrec(small_config(epochs=1, context="time_gap"), small_train.train)
    path = tmp_path / "run.pt"
    save_sasrec_checkpoint(path, result.network, result.config, small_train.item_ids, small_train.user_ids)
    loaded = load_sasrec_checkpoint(path)
    assert loaded.config == result.config and loaded.item_ids == tuple(str(i) for i in small_train.item_ids)
    settings = EvaluationSettings(ks=(5,))
    before = evaluate(SASRecStreamScorer(result.network, "sasrec"), small_train.train, small_train.test, settings)
    after = evaluate(SASRecStreamScorer(loaded.network, "sasrec"), small_train.train, small_train.test, settings)
    np.testing.assert_array_equal(before.rank, after.rank)
    for name, tensor in result.network.state_dict().items():
        assert torch.equal(tensor, loaded.network.state_dict()[name]), name
    other = tmp_path / "other.pt"
    torch.save({"format": "something else"}, other)
    with pytest.raises(CheckpointError, match="not an HRNN Workbench SASRec checkpoint"):
        load_sasrec_checkpoint(other)


def test_the_twin_is_sasrec_on_the_session_alone() -> None:
    sasrec, twin = MODELS["sasrec"], MODELS["sasrec-session"]
    assert sasrec.session_twin == "sasrec-session" and sasrec.personalized and sasrec.history == "all_events"
    assert not twin.personalized and twin.history == "none" and twin.session_twin is None
    assert sasrec.config_type is twin.config_type and list(sasrec.presets) == list(twin.presets)
    for name in sasrec.presets:  # the same settings, preset by preset: only the model differs
        assert dataclasses.replace(twin.presets[name], model="sasrec") == sasrec.presets[name]
    assert sasrec.search_space == twin.search_space
    assert build_config("sasrec-session", None, {}, 0).sessions_only


@pytest.mark.parametrize("loss", SEQUENCE_LOSSES.names())
def test_runs_train_and_evaluate_with_every_loss(small_dataset, loss: str) -> None:
    workspace, dataset_id = small_dataset
    overrides = {"epochs": 1, "hidden_size": 8, "loss": loss, "negative_sampling": "popularity"}
    run_ids = plan_runs(workspace, dataset_id, "sasrec", [0], overrides=overrides)
    run_ids += plan_runs(workspace, dataset_id, "sasrec-session", [0], overrides=overrides)
    for run_id in run_ids:
        run = execute_run(workspace, run_id)
        assert run.status == "finished", run.error
        evaluation = evaluate_run(workspace, run_id)
        assert 0.0 <= evaluation.metrics["event"]["recall@5"] <= 1.0


def test_the_attention_inspection_shows_sums_to_one_over_the_events_shown(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "sasrec", [0], overrides={"epochs": 1, "max_length": 5})
    (twin_id,) = plan_runs(workspace, dataset_id, "sasrec-session", [0], overrides={"epochs": 1})
    (rnn_id,) = plan_runs(workspace, dataset_id, "rnn", [0], overrides={"epochs": 1, "session_units": 8})
    for run in (run_id, twin_id, rnn_id):
        execute_run(workspace, run)
    prepared = load_prepared(workspace, dataset_id)
    user = int(prepared.test.session_user[np.argmax(prepared.test.session_length)])
    timeline = sasrec_attention(workspace, run_id, user, prepared)
    n_train = int((prepared.train.user == user).sum())
    test_length = int(prepared.test.session_length[prepared.test.session_user == user][0])
    assert timeline.n_predictions == test_length - 1 and len(timeline.item) == n_train + test_length - 1
    assert timeline.test.sum() == test_length - 1 and timeline.session[-1] == prepared.train.sessions_per_user[user]
    for position in range(1, timeline.n_predictions + 1):
        weights = timeline.at(position)
        read = n_train + position  # events read by this prediction
        assert weights.sum() == pytest.approx(1.0, abs=1e-6)
        assert not weights[read:].any() and not weights[: max(read - 5, 0)].any()  # only the last L = 5
    twin = sasrec_attention(workspace, twin_id, user, prepared)
    assert twin.test.all() and np.allclose(twin.weights.sum(axis=1), 1.0)
    with pytest.raises(InputError, match="attention is shown for SASRec runs"):
        sasrec_attention(workspace, rnn_id, user, prepared)


def test_a_recurrent_checkpoint_is_not_read_as_sasrecs(tmp_path) -> None:
    config = preset("rnn-small", session_units=4)
    path = tmp_path / "rnn.pt"
    save_checkpoint(path, RecurrentNetwork(config.network_spec(3)), config, ["a", "b", "c"], ["u"])
    with pytest.raises(CheckpointError):
        load_sasrec_checkpoint(path)


def test_inspection_replays_the_stored_ranks_of_sasrec(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    for model in ("sasrec", "sasrec-session"):
        (run_id,) = plan_runs(workspace, dataset_id, model, [0], overrides={"epochs": 2, "context": "time_gap"})
        execute_run(workspace, run_id)
        events = load_event_ranks(workspace, evaluate_run(workspace, run_id).id)
        for user in events["user"].unique()[:8]:
            steps = inspect_run_for_user(workspace, run_id, int(user), k=5, prepared=prepared)
            stored = events[events["user"] == user]
            assert [s.target_rank for s in steps] == stored["rank"].tolist()


def test_a_sasrec_study_scores_every_epoch_and_keeps_the_network_of_a_trial_stopped_early(small_dataset,
                                                                                         monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    scored = []

    def score(network, model, *args, **kwargs):  # the real score, then a fall that patience stops
        scored.append(network_score(network, model, *args, **kwargs))
        return 0.5 - 0.1 * len(scored)

    monkeypatch.setattr(worker_module, "network_score", score)
    request = TuningRequest(dataset_id, "sasrec", 1, fixed={"epochs": 4, "hidden_size": 16, "max_length": 10},
                            device="cpu", pruner="none", patience=1, study="sasrec", validation_users=20)
    (trial,) = run_study(workspace, prepare_study(workspace, request).name).view.trials
    assert trial.state == "complete" and trial.best_epoch == 1 and "stopped early at epoch 2" in trial.reason
    assert len(scored) == 2 and all(0.0 <= value <= 1.0 for value in scored)
    record = records.get_run(workspace, trial.run_id)
    assert record.status == "finished" and record.checkpoint_path is not None  # the network of epoch 2, saved
    assert isinstance(open_run_checkpoint(workspace, record).network, SASRecNetwork)


def test_an_epoch_takes_every_window_once_in_batches_of_similar_length() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=1000)
    end = np.cumsum(lengths)
    windows = TrainingWindows(end - lengths, end, np.zeros(int(end[-1]), dtype=np.int8))
    order = batch_order(windows, 10, np.random.default_rng(1))
    assert sorted(order.tolist()) == list(range(1000))  # a permutation: every window once
    widths = lengths[order].reshape(100, 10)
    padding = (widths.max(axis=1, keepdims=True) - widths).sum()
    random_widths = lengths[np.random.default_rng(1).permutation(1000)].reshape(100, 10)
    assert padding < 0.2 * (random_widths.max(axis=1, keepdims=True) - random_widths).sum()
    assert not np.array_equal(order, batch_order(windows, 10, np.random.default_rng(2)))  # shuffled per seed
