"""The evaluator's scorer replays training's forward pass (eval mode), vectorised over slots."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.models.network import RecurrentNetwork
from engine.models.step import StepInputs, user_rows
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.training.batching import SessionParallelBatcher, UserParallelBatcher
from engine.training.config import TrainConfig
from engine.training.loop import train
from engine.training.train_step import epoch_tensors
from tests.logs import nested_session_log

torch.set_num_threads(1)
N_ITEMS = 9
# user -> sessions (history, then the test session last)
USERS = {0: [[1, 2, 3], [4, 5], [2, 3, 4]], 1: [[6, 7], [0, 1, 8, 2]]}


def log_of(users: dict[int, list[list[int]]]) -> SessionLog:
    return nested_session_log([users[u] for u in sorted(users)], N_ITEMS)


def trained(model: str) -> RecurrentNetwork:
    cfg = TrainConfig(model=model, session_units=6, user_units=5, batch_size=2, epochs=2,
                      dropout_session=0.3, dropout_user=0.2, dropout_init=0.2, device="cpu")
    return train(cfg, log_of(USERS)).network


def training_forward_scores(net: RecurrentNetwork, log: SessionLog, batcher) -> dict[tuple[int, int], torch.Tensor]:
    """(user, input event index) -> scores after the training-time step (eval mode) on that input."""
    sched = batcher.schedule(log, np.random.default_rng(0))
    ten = epoch_tensors(sched, log, net.spec.pad_item, torch.device("cpu"))
    s, c = net.new_state(sched.pair_input.shape[1])
    out = {}
    for t in range(sched.n_steps):
        s, c = net.advance(StepInputs(ten.items[t], ten.keep[t], ten.update[t], user_rows(ten.update[t], False)), s, c)
        scores = net.score_items(s)
        for b, e in enumerate(sched.pair_input[t]):
            if e >= 0:
                out[(int(log.user[e]), int(e))] = scores[b]
    return out


def evaluator_walk(scorer: RecurrentStreamScorer, log: SessionLog,
                   feed_history: str) -> dict[tuple[int, int], torch.Tensor]:
    """Two slots walk the users' streams in lockstep like the evaluator: (user, event) -> scores."""
    streams = {}
    for u in range(log.n_users):
        sessions = [np.arange(log.session_offsets[k], log.session_offsets[k + 1])
                    for k in range(log.user_session_offsets[u], log.user_session_offsets[u + 1])]
        events: list[tuple[int, bool]] = []
        history, test = sessions[:-1], sessions[-1]
        for ses in history:
            kept = ses[:-1] if feed_history == "session_inputs" else ses
            if feed_history != "none":
                events += [(int(e), k == 0) for k, e in enumerate(kept)]
        events += [(int(e), k == 0) for k, e in enumerate(test[:-1])]
        streams[u] = events
    scorer.reset(2)
    scorer.assign(np.array([0, 1]), np.array([0, 1]))
    out = {}
    for t in range(max(len(v) for v in streams.values())):
        items, starts, active = np.zeros(2, dtype=np.int64), np.zeros(2, dtype=bool), np.zeros(2, dtype=bool)
        for u in (0, 1):
            if t < len(streams[u]):
                e, start = streams[u][t]
                items[u], starts[u], active[u] = log.item[e], start, True
        scorer.consume(items, starts, active)
        slots = np.flatnonzero(active)
        scores = scorer.scores(slots)
        for k, u in enumerate(slots):
            out[(int(u), streams[int(u)][t][0])] = scores[k]
    return out


@pytest.mark.parametrize("model", ["hrnn-init", "hrnn-all"])
def test_hrnn_scorer_matches_training_forward(model: str) -> None:
    net = trained(model)
    log = log_of(USERS)
    scorer = RecurrentStreamScorer(net, model)
    assert scorer.history_feed == "session_inputs" and scorer.n_items == N_ITEMS
    walked = evaluator_walk(scorer, log, "session_inputs")
    expected = training_forward_scores(net, log, UserParallelBatcher(1, order="fixed"))
    assert set(walked) == set(expected)  # every training input and every test input
    for key, scores in walked.items():
        assert scores.dtype == torch.float32 and scores.shape == (N_ITEMS,)
        assert torch.allclose(scores, expected[key], atol=1e-6), key


def test_rnn_concat_scorer_matches_training_forward() -> None:
    net = trained("rnn-concat")
    log = log_of(USERS)
    walked = evaluator_walk(RecurrentStreamScorer(net, "rnn-concat"), log, "all_events")
    expected = training_forward_scores(net, log, UserParallelBatcher(1, order="fixed", concatenate_sessions=True))
    assert set(walked) == set(expected)
    for key, scores in walked.items():
        assert torch.allclose(scores, expected[key], atol=1e-6), key


def test_rnn_scorer_resets_at_every_session() -> None:
    net = trained("rnn")
    log = log_of(USERS)
    walked = evaluator_walk(RecurrentStreamScorer(net, "rnn"), log, "none")
    expected = training_forward_scores(net, log, SessionParallelBatcher(1))
    assert len(walked) == 5  # test-session inputs only: 2, 3 of user 0; 0, 1, 8 of user 1
    for key, scores in walked.items():
        assert torch.allclose(scores, expected[key], atol=1e-6), key


class _ScoresOfOnly:
    """A network scorer without ``candidate_scores``: the evaluator falls back to ``scores_of``."""

    def __init__(self, scorer: RecurrentStreamScorer) -> None:
        self._scorer = scorer
        self.history_feed, self.n_items = scorer.history_feed, scorer.n_items
        self.reset, self.assign, self.consume = scorer.reset, scorer.assign, scorer.consume
        self.scores, self.scores_of = scorer.scores, scorer.scores_of


@pytest.mark.parametrize("model", ["rnn", "hrnn-init"])
def test_candidate_scores_give_the_ranks_of_the_scores_of_columns(model: str) -> None:
    """Ranking among candidates from the prepared candidate product and the targets' dot products
    gives the ranks of the columns ``scores_of`` computes, for targets inside and outside the
    candidates; the prepared columns are reused across batches and rebuilt for a new array."""
    from engine.evaluation.evaluator import EvaluationSettings, evaluate

    log = log_of(USERS)
    test = log.select_sessions(np.isin(np.arange(log.n_sessions), log.user_session_offsets[1:] - 1))
    train_log = log.select_sessions(~np.isin(np.arange(log.n_sessions), log.user_session_offsets[1:] - 1))
    scorer = RecurrentStreamScorer(trained(model), model)
    for n_candidates in (3, 5, 8):
        settings = EvaluationSettings(n_candidates=n_candidates, batch_size=1)
        fast = evaluate(scorer, train_log, test, settings)
        plain = evaluate(_ScoresOfOnly(RecurrentStreamScorer(scorer.network, model)), train_log, test, settings)
        assert fast.rank.tolist() == plain.rank.tolist() and fast.tied.tolist() == plain.tied.tolist()
    candidates = np.array([1, 4, 6])
    among, target = scorer.candidate_scores(np.array([0]), candidates, np.array([4]))
    columns = scorer.scores_of(np.array([0]), np.array([1, 4, 6, 4]))
    assert among[0].tolist() == pytest.approx(columns[0, :3].tolist(), abs=1e-6)
    assert float(target[0]) == pytest.approx(float(columns[0, 3]), abs=1e-6)
