"""Checkpoints round-trip exactly and never execute code from the file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.session_log import SessionLog
from engine.errors import CheckpointError
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.training.checkpoint import load_checkpoint, save_checkpoint
from engine.training.config import TrainConfig
from engine.training.loop import train

torch.set_num_threads(1)
EXECUTED: list[str] = []


def small_log() -> SessionLog:
    rng = np.random.default_rng(0)
    user = np.repeat(np.arange(6), 12)
    session = np.repeat(np.arange(24), 3)
    item = rng.integers(0, 9, size=72)
    return SessionLog.from_arrays(user, session, item, np.arange(72, dtype=float), 6, 9)


def scores_after(scorer: RecurrentStreamScorer, events: list[tuple[int, bool]]) -> torch.Tensor:
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([0]))
    for item, start in events:
        scorer.consume(np.array([item]), np.array([start]), np.array([True]))
    return scorer.scores(np.array([0]))


def test_round_trip_gives_identical_scores(tmp_path: Path) -> None:
    cfg = TrainConfig(model="hrnn-all", session_units=8, user_units=6, batch_size=3, epochs=1,
                      all_mode="input", momentum=0.1, device="cpu")
    result = train(cfg, small_log())
    path = tmp_path / "model.pt"
    items = [f"item-{i}" for i in range(9)]
    users = [str(u) for u in range(100, 106)]
    save_checkpoint(path, result.network, cfg, items, users)
    loaded = load_checkpoint(path)
    assert loaded.config == cfg
    assert loaded.item_ids == tuple(items) and loaded.user_ids == tuple(users)
    events = [(1, True), (4, False), (2, True), (7, False)]
    before = scores_after(RecurrentStreamScorer(result.network, cfg.model), events)
    after = scores_after(RecurrentStreamScorer(loaded.network, cfg.model), events)
    assert torch.equal(before, after)


class _Payload:
    def __reduce__(self):
        return (EXECUTED.append, ("code ran",))


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "hrnn-workbench/recurrent-network", "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert EXECUTED == []


def test_foreign_or_broken_files_are_clear_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not an HRNN Workbench"):
        load_checkpoint(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(garbage)
