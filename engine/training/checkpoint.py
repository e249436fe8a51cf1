"""Checkpoints: weights, configuration and id maps in one file that loads without running code.

The file (engine/training/checkpoint_file.py) holds the :class:`TrainConfig` as its configuration
and the recurrent network's state; checkpoints written before the second recurrent gate bias load
with that bias at zero.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import CheckpointError, ConfigError
from engine.models.network import RecurrentNetwork
from engine.training.checkpoint_file import read_checkpoint_file, write_checkpoint_file
from engine.training.config import TrainConfig

CHECKPOINT_FORMAT = "hrnn-workbench/recurrent-network"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Checkpoint:
    config: TrainConfig
    network: RecurrentNetwork
    item_ids: tuple[str, ...]  # original id of item code i
    user_ids: tuple[str, ...]  # original id of user code u


def save_checkpoint(path: str | Path, network: RecurrentNetwork, config: TrainConfig,
                    item_ids: Sequence[object] | np.ndarray, user_ids: Sequence[object] | np.ndarray) -> None:
    """Write atomically (temporary file, then rename). Ids are stored as strings."""
    write_checkpoint_file(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, config.to_json(), network.spec.n_items,
                          network.state_dict(), item_ids, user_ids)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; never executes code from the file."""
    payload = read_checkpoint_file(path, device, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "model checkpoint")
    try:
        config = TrainConfig.from_json(payload["config"])
        network = RecurrentNetwork(config.network_spec(int(payload["n_items"])))
        state = dict(payload["state_dict"])
        missing = network.dense.numel() - state["dense"].numel()
        if missing and missing == network.spec.recurrent_gate_bias_size:  # written before those biases
            state["dense"] = torch.cat([state["dense"], state["dense"].new_zeros(missing)])
        network.load_state_dict(state, strict=True)
    except (ConfigError, KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} is inconsistent: {exc}") from None
    return Checkpoint(config, network.to(device), tuple(payload["item_ids"]), tuple(payload["user_ids"]))
