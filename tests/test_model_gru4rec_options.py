"""The official GRU4Rec options (constrained item embedding, embedding dropout, ELU final
activation, log-Q coefficient): hand-written gradients against autograd, inference, settings."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.models.network import RecurrentNetwork
from engine.training.config import TrainConfig
from engine.training.presets import NETWORK_PRESETS, preset
from engine.training.train_step import TrainStep
from tests.test_model_step import HS, N_ITEMS, ref_gru

torch.set_num_threads(1)
B, EXTRA = 4, 3


class _Recorder:
    def step(self, dense_grad, rows, row_grads):
        self.dense = dense_grad.clone()
        self.rows, self.row_grads = [r.clone() for r in rows], [g.clone() for g in row_grads]


def _network(cfg: TrainConfig) -> RecurrentNetwork:
    net = RecurrentNetwork(cfg.network_spec(N_ITEMS), seed=1)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for view in net.dense_views().values():
            if view.dim() == 1:
                view.copy_(torch.randn(view.shape, generator=g) * 0.5)
        net.item_out[:N_ITEMS, -1] = torch.randn(N_ITEMS, generator=g)
    return net


CASES = {
    "tied-bpr-max-elu": dict(constrained_embedding=True, loss="bpr-max", final_activation="elu", elu_alpha=0.7,
                             n_extra_negatives=EXTRA, bpr_max_reg=0.5),
    "tied-embedding-dropout": dict(constrained_embedding=True, loss="bpr-max", final_activation="elu",
                                   dropout_embedding=0.5, n_extra_negatives=EXTRA),
    "embedding-ce-logq": dict(embedding_size=4, loss="cross-entropy", logq=0.8, n_extra_negatives=EXTRA,
                              sample_alpha=0.4),
    "official-cell-and-normalization": dict(constrained_embedding=True, loss="bpr-max", final_activation="elu",
                                            n_extra_negatives=EXTRA, reset_gate="after", loss_normalization="batch",
                                            batch_size=6),
}


def ref_cell(x: torch.Tensor, h: torch.Tensor, dense: dict, reset_after: bool) -> torch.Tensor:
    if not reset_after:
        return ref_gru(x, h, dense["session.u_rz"], dense["session.u_h"])
    n = h.shape[1]
    b_hr, b_hz = dense["session.bias_hrz"].chunk(2)  # torch's second bias of each gate
    r = torch.sigmoid(x[:, :n] + b_hr + h @ dense["session.u_rz"][:, :n])
    z = torch.sigmoid(x[:, n: 2 * n] + b_hz + h @ dense["session.u_rz"][:, n:])
    cand = torch.tanh(x[:, 2 * n:] + r * (h @ dense["session.u_h"] + dense["session.bias_hn"]))
    return (1 - z) * h + z * cand


@pytest.mark.parametrize("case", CASES)
def test_gru4rec_options_gradients_match_autograd(case: str) -> None:
    cfg = TrainConfig(model="rnn", session_units=HS, dropout_session=0.0, **{"batch_size": B, **CASES[case]})
    net = _network(cfg)
    pop = np.arange(1, N_ITEMS + 1, dtype=float)
    step = TrainStep(cfg, net, pop, torch.Generator().manual_seed(0))
    rec = _Recorder()
    step.optimizer = rec
    mask = (torch.arange(B)[:, None] + torch.arange(net.spec.input_size)[None, :]) % 2 * 2.0  # p = 0.5
    masks = iter([None, None, None, mask if cfg.dropout_embedding else None])
    step._dropout_mask = lambda p, rows, units: next(masks)
    s = torch.rand(B, HS, generator=torch.Generator().manual_seed(9)) * 2 - 1
    step.state = (s.clone(), torch.zeros(B, 0))
    step.eye = torch.eye(B, B + EXTRA, dtype=torch.bool)  # four of the configured slots are used
    items = torch.tensor([2, 5, 2, 1])
    targets = torch.tensor([3, 2, 6, 0])
    keep = torch.tensor([1.0, 0.0, 1.0, 1.0])[:, None]
    active = torch.ones(B, dtype=torch.bool)
    result = step(items, targets, keep, torch.zeros(B, 1), active)

    dense = {k: v.clone().requires_grad_(True) for k, v in net.dense_views().items()}
    item_in = net.item_in.data.clone().requires_grad_(True)
    item_out = net.item_out.data.clone().requires_grad_(True)
    inputs = item_out[items, :HS] if cfg.constrained_embedding else item_in[items]
    if cfg.dropout_embedding:
        inputs = inputs * mask
    x = inputs @ dense["session.w_in"] + dense["session.bias"]
    s_new = ref_cell(x, torch.where(keep.bool(), s, 0.0), dense, cfg.reset_gate == "after")
    cols = rec.rows[-1][-(B + EXTRA):]  # the output rows: targets, then the extra negatives
    assert torch.equal(cols[:B], targets)
    w = item_out[cols]
    logits = s_new @ w[:, :HS].T + w[:, HS]  # [B, B + EXTRA]
    losses = []
    for i in range(B):
        negs = [j for j in range(B + EXTRA) if j != i]
        if cfg.loss == "bpr-max":
            y = torch.nn.functional.elu(logits[i], cfg.elu_alpha)
            soft = torch.softmax(y[negs], 0)
            losses.append(-torch.log((soft * torch.sigmoid(y[i] - y[negs])).sum() + 1e-24)
                          + cfg.bpr_max_reg * (soft * y[negs] ** 2).sum())
        else:
            counts = torch.tensor(pop, dtype=torch.float32)[cols]
            correction = torch.cat([counts[:B].log(), cfg.sample_alpha * counts[B:].log()])
            corrected = logits[i] - cfg.logq * correction
            losses.append(-torch.log_softmax(corrected[[i] + negs], 0)[0])
    loss = torch.stack(losses).sum() / (cfg.batch_size if cfg.loss_normalization == "batch" else B)
    loss.backward()
    assert result.loss.item() == pytest.approx(loss.item(), abs=1e-5)
    grads = net.dense_views(rec.dense)
    for name, ref in dense.items():
        assert torch.allclose(grads[name], ref.grad, atol=1e-6), name
    tables = [item_out] if cfg.constrained_embedding else [item_in, item_out]
    assert len(rec.rows) == len(tables)
    for k, ref_table in enumerate(tables):
        summed = torch.zeros_like(ref_table).index_add_(0, rec.rows[k], rec.row_grads[k])
        assert torch.allclose(summed, ref_table.grad, atol=1e-6), k


def test_tied_embedding_reads_the_output_vectors_and_has_no_input_table() -> None:
    cfg = TrainConfig(model="rnn", session_units=HS, constrained_embedding=True, loss="bpr-max")
    net = _network(cfg)
    assert net.item_in.shape == (N_ITEMS + 1, 0)
    assert net.dense_views()["session.w_in"].shape == (HS, 3 * HS)
    with torch.no_grad():
        net.item_out[2, :HS] = torch.tensor([0.3, -0.2, 0.1])
    assert torch.equal(net.input_rows()[2], net.item_out[2, :HS])


@pytest.mark.parametrize("change, message", [
    (dict(constrained_embedding=True, embedding_size=8), "The tied item embedding has the session units' size"),
    (dict(dropout_embedding=0.2), "Embedding dropout needs item embeddings"),
    (dict(logq=1.0, loss="bpr-max"), "The log-Q coefficient applies to the cross-entropy loss only"),
    (dict(final_activation="elu", elu_alpha=0.0), r"ELU alpha must be in \(0,"),
])
def test_inconsistent_gru4rec_options_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dataclasses.replace(TrainConfig(model="rnn"), **change).validate()


def test_the_official_preset_holds_the_official_codes_defaults() -> None:
    config = preset("rnn-gru4rec-official")
    assert (config.loss, config.activation, config.elu_alpha, config.bpr_max_reg) == ("bpr-max", "elu", 0.5, 1.0)
    assert ((config.n_extra_negatives, config.sample_alpha, config.learning_rate, config.momentum)
            == (2048, 0.5, 0.05, 0.0))
    assert config.constrained_embedding and config.dropout_session == config.dropout_embedding == 0.0
    assert (config.reset_gate, config.loss_normalization) == ("after", "batch")
    assert (config.session_units, config.batch_size, config.epochs) == (100, 100, 10)
    assert {kind for kind, presets in NETWORK_PRESETS.items() if "gru4rec-official" in presets} == {
        "rnn", "rnn-concat", "hrnn-init", "hrnn-all"}


def test_a_tied_network_trains_saves_and_scores_the_same_after_loading(tmp_path) -> None:
    from engine.models.stream_scorers import RecurrentStreamScorer
    from engine.training.checkpoint import load_checkpoint, save_checkpoint
    from engine.training.loop import train
    from tests.test_training_loop import patterned_log

    log = patterned_log()
    cfg = dataclasses.replace(preset("rnn-gru4rec-official"), session_units=8, batch_size=4, n_extra_negatives=5,
                              epochs=2, device="cpu", dropout_embedding=0.2)
    result = train(cfg, log)
    assert result.epoch_losses[1] < result.epoch_losses[0]
    path = tmp_path / "tied.pt"
    save_checkpoint(path, result.network, cfg, [str(i) for i in range(log.n_items)],
                    [str(u) for u in range(log.n_users)])
    loaded = load_checkpoint(path)
    scores = []
    for network in (result.network, loaded.network):
        scorer = RecurrentStreamScorer(network, "rnn")
        scorer.reset(1)
        scorer.assign(np.array([0]), np.array([0]))
        scorer.consume(np.array([3]), np.array([True]), np.array([True]))
        scores.append(scorer.scores(np.array([0])))
    assert torch.equal(scores[0], scores[1])


def test_the_official_cell_is_torchs_grucell_with_both_biases_of_each_gate() -> None:
    """RNN with the official preset's cell (tied embedding, reset after the product) steps exactly
    as torch.nn.GRUCell fed the item's output vector: every one of torch's six bias vectors has its
    place, including the second (recurrent) bias of the reset and update gates."""
    from tests.test_model_step import _one_step

    cfg = TrainConfig(model="rnn", session_units=HS, constrained_embedding=True, reset_gate="after",
                      loss="bpr-max", final_activation="elu")
    net = _network(cfg)
    cell = torch.nn.GRUCell(HS, HS)
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=g))
        w_ir, w_iz, w_in = cell.weight_ih.chunk(3)
        w_hr, w_hz, w_hn = cell.weight_hh.chunk(3)
        b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
        b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
        dense = net.dense_views()
        # ours interpolates towards the candidate with z, torch towards the old state: negate z
        dense["session.w_in"].copy_(torch.cat([w_ir.T, -w_iz.T, w_in.T], dim=1))
        dense["session.bias"].copy_(torch.cat([b_ir, -b_iz, b_in]))
        dense["session.bias_hrz"].copy_(torch.cat([b_hr, -b_hz]))
        dense["session.u_rz"].copy_(torch.cat([w_hr.T, -w_hz.T], dim=1))
        dense["session.u_h"].copy_(w_hn.T)
        dense["session.bias_hn"].copy_(b_hn)
        s = torch.randn(2, HS, generator=g)
        ours, _ = _one_step(net, [2, 4], [1.0, 1.0], [0.0, 0.0], s, torch.zeros(2, 0))
        expected = cell(net.item_out[[2, 4], :HS], s)
    assert torch.allclose(ours, expected, atol=1e-5)


def test_a_checkpoint_written_before_the_second_gate_bias_loads_with_zeros(tmp_path) -> None:
    from engine.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = preset("rnn-gru4rec-official", session_units=HS)
    net = _network(cfg)
    path = tmp_path / "model.pt"
    save_checkpoint(path, net, cfg, [str(i) for i in range(N_ITEMS)], [])
    payload = torch.load(path, weights_only=True)
    size = net.spec.recurrent_gate_bias_size
    assert size == 2 * HS and net.dense_views()["session.bias_hrz"].abs().sum() > 0
    payload["state_dict"]["dense"] = payload["state_dict"]["dense"][:-size]  # the layout of older builds
    torch.save(payload, path)
    loaded = load_checkpoint(path).network
    views = loaded.dense_views()
    assert torch.equal(views["session.bias_hrz"], torch.zeros(2 * HS))
    assert torch.equal(views["session.bias_hn"], net.dense_views()["session.bias_hn"])
