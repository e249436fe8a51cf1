"""SASRec's network and stream scorer: causal masking, padding, truncation to the last L events,
the time-gap buckets, the attention shown in Inspection (it sums to 1 over the events shown), and
the two attention paths (fused and with weights) agreeing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.sasrec import SASRecNetwork, SASRecSpec, causal_mask, gap_buckets
from engine.models.sasrec_scorer import SASRecStreamScorer

N_ITEMS = 30


def network(**changes: object) -> SASRecNetwork:
    spec = SASRecSpec(**{"n_items": N_ITEMS, "hidden_size": 16, "blocks": 2, "heads": 2, "max_length": 8,
                         "dropout": 0.3, **changes})
    net = SASRecNetwork(spec, seed=1).eval()
    with torch.no_grad():  # LayerNorm and biases away from their initial 1 and 0, so that they take part
        for parameter in net.parameters():
            if parameter.dim() == 1:
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(5)))
    return net


def test_a_future_event_cannot_change_an_earlier_prediction() -> None:
    net = network()
    items = torch.tensor([[3, 7, 1, 9, 4, 12, 5, 6]])
    changed = items.clone()
    changed[0, 5] = 20  # the 6th event
    before, after = net.encode(items), net.encode(changed)  # [1, 8, d]
    assert torch.equal(before[:, :5], after[:, :5])  # the predictions after events 1..5 cannot see it
    assert not torch.allclose(before[:, 5:], after[:, 5:])  # those after it do


def test_padding_never_changes_a_prediction_nor_takes_attention() -> None:
    net = network(context="time_gap")
    pad = net.spec.pad_item
    events, gaps = torch.tensor([[3, 7, 1]]), torch.tensor([[0, 2, 5]])
    padded = torch.tensor([[pad, pad, pad, 3, 7, 1]])
    padded_gaps = torch.tensor([[4, 8, 1, 0, 2, 5]])  # whatever padding carries
    torch.testing.assert_close(net.encode(padded, padded_gaps)[:, 3:], net.encode(events, gaps), rtol=0, atol=1e-6)
    _, attention = net.encode_last(padded, padded_gaps)
    assert torch.equal(attention[0, :3], torch.zeros(3))
    # a padding query sees only itself: every softmax row has an allowed key
    allowed = causal_mask(padded != pad)
    assert allowed[0, 0].sum(dim=1).min() >= 1 and not allowed[0, 0, 4, :3].any()


def test_the_fused_attention_and_the_attention_with_weights_agree() -> None:
    net = network()
    items = torch.tensor([[net.spec.pad_item, 3, 7, 1, 9], [2, 4, 6, 8, 10]])
    hidden, _ = net.encode_last(items)
    torch.testing.assert_close(hidden, net.encode(items)[:, -1], rtol=1e-5, atol=1e-5)


def test_a_window_longer_than_l_is_refused() -> None:
    net = network()
    with pytest.raises(ValueError, match="longer than the maximum length"):
        net.encode(torch.zeros(1, 9, dtype=torch.long))


def test_time_gap_buckets() -> None:
    gaps = np.array([0.0, 60.0, 61.0, 1800.0, 1801.0, 86400.0, 2592000.0, 2592001.0, 5.0])
    has_previous = np.array([True] * 8 + [False])
    assert gap_buckets(gaps, has_previous).tolist() == [1, 1, 2, 3, 4, 5, 7, 8, 0]


def consume_all(scorer: SASRecStreamScorer, items: list[int], times: list[float] | None = None,
                starts: list[bool] | None = None) -> None:
    for index, item in enumerate(items):
        if times is not None:
            scorer.observe_times(np.array([times[index]]), np.array([True]))
        start = bool(starts[index]) if starts is not None else index == 0
        scorer.consume(np.array([item]), np.array([start]), np.array([True]))


def test_the_scorer_reads_the_last_l_events_only() -> None:
    net = network()
    stream = [int(x) for x in np.random.default_rng(0).integers(0, N_ITEMS, 20)]
    scorer = SASRecStreamScorer(net, "sasrec")
    scorer.reset(1)
    consume_all(scorer, stream)
    expected = net.score_items(net.encode(torch.tensor([stream[-8:]]))[:, -1])
    torch.testing.assert_close(scorer.scores(np.array([0])), expected)
    other = SASRecStreamScorer(net, "sasrec")
    other.reset(1)
    consume_all(other, [5] * 12 + stream[-8:])  # a different past beyond the last 8 events
    torch.testing.assert_close(other.scores(np.array([0])), expected)
    torch.testing.assert_close(scorer.scores_of(np.array([0]), np.array([4, 2, 4])), expected[:, [4, 2, 4]])


def test_the_scorer_trims_padding_shared_by_its_slots() -> None:
    net = network()
    scorer = SASRecStreamScorer(net, "sasrec")
    scorer.reset(2)
    for item_a, item_b, active_b in [(1, 2, True), (3, 0, False), (4, 0, False)]:
        scorer.consume(np.array([item_a, item_b]), np.array([False, False]), np.array([True, active_b]))
    both = scorer.scores(np.array([0, 1]))
    alone = [net.score_items(net.encode(torch.tensor([window]))[:, -1]) for window in ([1, 3, 4], [2])]
    torch.testing.assert_close(both, torch.cat(alone), rtol=1e-5, atol=1e-5)


def test_attention_sums_to_one_over_the_events_shown() -> None:
    net = network(heads=4)
    scorer = SASRecStreamScorer(net, "sasrec")
    scorer.reset(1)
    consume_all(scorer, [3, 1, 4])
    weights = scorer.attention(0)
    assert weights.shape == (3,) and weights.min() > 0 and weights.sum() == pytest.approx(1.0, abs=1e-6)
    consume_all(scorer, [1, 5, 9, 2, 6, 5, 3])  # 10 events read: the window holds the last 8
    weights = scorer.attention(0)
    assert weights.shape == (8,) and weights.sum() == pytest.approx(1.0, abs=1e-6)


def test_the_time_gap_of_each_event_is_measured_from_the_one_before() -> None:
    net = network(context="time_gap")
    scorer = SASRecStreamScorer(net, "sasrec")
    scorer.reset(1)
    consume_all(scorer, [1, 2, 3], times=[0.0, 30.0, 40.0 + 86400.0 * 3])
    assert scorer.gaps[0, -3:].tolist() == [0, 1, 6]


def test_the_twin_forgets_everything_at_a_session_start() -> None:
    net = network()
    twin = SASRecStreamScorer(net, "sasrec-session")
    assert twin.history_feed == "none" and SASRecStreamScorer(net, "sasrec").history_feed == "all_events"
    twin.reset(1)
    consume_all(twin, [1, 2, 3, 4, 5], starts=[True, False, False, True, False])
    torch.testing.assert_close(twin.scores(np.array([0])), net.score_items(net.encode(torch.tensor([[4, 5]]))[:, -1]))
