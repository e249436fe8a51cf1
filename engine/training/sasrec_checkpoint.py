"""SASRec checkpoints: weights, configuration and id maps in one file that loads without running code.

The file (engine/training/checkpoint_file.py) holds the :class:`SASRecConfig` as its configuration
and the attention network's state.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import CheckpointError, ConfigError
from engine.models.sasrec import SASRecNetwork
from engine.training.checkpoint_file import read_checkpoint_file, write_checkpoint_file
from engine.training.sasrec_config import SASRecConfig

SASREC_CHECKPOINT_FORMAT = "hrnn-workbench/sasrec"
SASREC_CHECKPOINT_VERSION = 1


@dataclass(frozen=True, eq=False)
class SASRecCheckpoint:
    config: SASRecConfig
    network: SASRecNetwork
    item_ids: tuple[str, ...]  # original id of item code i
    user_ids: tuple[str, ...]  # original id of user code u


def save_sasrec_checkpoint(path: str | Path, network: SASRecNetwork, config: SASRecConfig,
                           item_ids: Sequence[object] | np.ndarray, user_ids: Sequence[object] | np.ndarray) -> None:
    """Write atomically (temporary file, then rename). Ids are stored as strings."""
    write_checkpoint_file(path, SASREC_CHECKPOINT_FORMAT, SASREC_CHECKPOINT_VERSION, config.to_json(),
                          network.spec.n_items, network.state_dict(), item_ids, user_ids)


def load_sasrec_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> SASRecCheckpoint:
    """Read a checkpoint written by :func:`save_sasrec_checkpoint`; never executes code from the file."""
    payload = read_checkpoint_file(path, device, SASREC_CHECKPOINT_FORMAT, SASREC_CHECKPOINT_VERSION,
                                   "SASRec checkpoint")
    try:
        config = SASRecConfig.from_json(payload["config"])
        network = SASRecNetwork(config.network_spec(int(payload["n_items"])))
        network.load_state_dict(dict(payload["state_dict"]), strict=True)
    except (ConfigError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is inconsistent: {exc}") from None
    return SASRecCheckpoint(config, network.to(device).eval(), tuple(payload["item_ids"]),
                            tuple(payload["user_ids"]))
