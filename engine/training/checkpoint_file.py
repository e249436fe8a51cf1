"""The file behind every network's checkpoint: a ``torch.save`` of a plain dict (``format``,
``version``, ``config`` as a JSON string, ``n_items``, ``state_dict`` of tensors only, ``item_ids`` and
``user_ids`` as lists of strings: the original ids of the dense codes), written atomically and read
with ``torch.load(weights_only=True)``, which refuses any pickle that would construct other objects.
Each network's module (checkpoint.py, sasrec_checkpoint.py) names its format and builds its network."""
from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.errors import CheckpointError


def write_checkpoint_file(path: str | Path, kind: str, version: int, config_json: str, n_items: int,
                          state_dict: dict[str, torch.Tensor], item_ids: Sequence[object] | np.ndarray,
                          user_ids: Sequence[object] | np.ndarray) -> None:
    """Write atomically (temporary file, then rename). Ids are stored as strings."""
    if len(item_ids) != n_items:
        raise ValueError(f"{len(item_ids)} item ids for a network of {n_items} items")
    payload = {
        "format": kind,
        "version": version,
        "config": config_json,
        "n_items": n_items,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "item_ids": [str(i) for i in item_ids],
        "user_ids": [str(u) for u in user_ids],
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def read_checkpoint_file(path: str | Path, device: str | torch.device, kind: str, version: int,
                         what: str) -> dict[str, Any]:
    """The payload of a checkpoint of format ``kind`` and ``version`` (``what``: its name in messages,
    e.g. "model checkpoint");
    CheckpointError for anything else; never executes code from the file."""
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path} is refused: it is not a plain weights file (loading it "
                              f"would construct arbitrary objects): {str(exc).splitlines()[0]}") from None
    except (OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != kind:
        raise CheckpointError(f"{path} is not an HRNN Workbench {what}")
    if payload.get("version") != version:
        raise CheckpointError(f"{path} has {what} version {payload.get('version')}; "
                              f"this build reads version {version}")
    return payload
