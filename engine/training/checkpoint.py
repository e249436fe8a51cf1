"""Checkpoints: weights, configuration and id maps in one file that loads without running code.

The file is a ``torch.save`` of a plain dict: ``format``, ``version``, ``config`` (the
:class:`TrainConfig` as a JSON string), ``n_items``, ``state_dict`` (tensors only), ``item_ids``
and ``user_ids`` (lists of strings: the original ids of the dense codes). It is read with
``torch.load(weights_only=True)``, which refuses any pickle that would construct other objects.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from engine.errors import CheckpointError, ConfigError
from engine.models.network import RecurrentNetwork
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
    if len(item_ids) != network.spec.n_items:
        raise ValueError(f"{len(item_ids)} item ids for a network of {network.spec.n_items} items")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": config.to_json(),
        "n_items": network.spec.n_items,
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
        "item_ids": [str(i) for i in item_ids],
        "user_ids": [str(u) for u in user_ids],
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; never executes code from the file."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path} is refused: it is not a plain weights file (loading it "
                              f"would construct arbitrary objects): {str(exc).splitlines()[0]}") from None
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an HRNN Workbench model checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload.get('version')}; "
                              f"this build reads version {CHECKPOINT_VERSION}")
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
