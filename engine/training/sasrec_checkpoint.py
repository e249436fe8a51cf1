"""SASRec checkpoints: weights, configuration and id maps in one file that loads without running code.

The file is a ``torch.save`` of a plain dict: ``format``, ``version``, ``config`` (the
:class:`SASRecConfig` as a JSON string), ``n_items``, ``state_dict`` (tensors only), ``item_ids`` and
``user_ids`` (lists of strings). It is read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import CheckpointError, ConfigError
from engine.models.sasrec import SASRecNetwork
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
    if len(item_ids) != network.spec.n_items:
        raise ValueError(f"{len(item_ids)} item ids for a network of {network.spec.n_items} items")
    payload = {
        "format": SASREC_CHECKPOINT_FORMAT,
        "version": SASREC_CHECKPOINT_VERSION,
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


def load_sasrec_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> SASRecCheckpoint:
    """Read a checkpoint written by :func:`save_sasrec_checkpoint`; never executes code from the file."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path} is refused: it is not a plain weights file (loading it "
                              f"would construct arbitrary objects): {str(exc).splitlines()[0]}") from None
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != SASREC_CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an HRNN Workbench SASRec checkpoint")
    if payload.get("version") != SASREC_CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has SASRec checkpoint version {payload.get('version')}; "
                              f"this build reads version {SASREC_CHECKPOINT_VERSION}")
    try:
        config = SASRecConfig.from_json(payload["config"])
        network = SASRecNetwork(config.network_spec(int(payload["n_items"])))
        network.load_state_dict(dict(payload["state_dict"]), strict=True)
    except (ConfigError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is inconsistent: {exc}") from None
    return SASRecCheckpoint(config, network.to(device).eval(), tuple(payload["item_ids"]),
                            tuple(payload["user_ids"]))
