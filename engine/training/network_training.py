"""One entry to train any network of the registry: the recurrent models (:func:`engine.training.loop.train`)
or SASRec and its twin (:func:`engine.training.sasrec_training.train_sasrec`), chosen by the type of
their configuration; their checkpoints, written and read the same way; and their stream scorers."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.data.session_log import SessionLog
from engine.models.network import RecurrentNetwork
from engine.models.sasrec import SASRecNetwork
from engine.models.sasrec_scorer import SASRecStreamScorer
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from engine.training.config import TrainConfig
from engine.training.loop import EpochCallback, TrainResult, train
from engine.training.sasrec_checkpoint import SASRecCheckpoint, load_sasrec_checkpoint, save_sasrec_checkpoint
from engine.training.sasrec_config import SASREC_MODELS, SASRecConfig
from engine.training.sasrec_training import SASRecResult, train_sasrec

#: The configuration of a network, and the network it trains.
NetworkConfig = TrainConfig | SASRecConfig
Network = RecurrentNetwork | SASRecNetwork
#: The configuration types of networks (a baseline's is any other ModelSettings).
NETWORK_CONFIGS = (TrainConfig, SASRecConfig)


def train_network(config: NetworkConfig, data: SessionLog, progress: ProgressCallback = no_progress,
                  cancel: CancelToken | None = None, on_epoch: EpochCallback | None = None,
                  after_epoch: Any = None) -> TrainResult | SASRecResult:
    """Train the network ``config`` describes (see :func:`engine.training.loop.train`; ``after_epoch``
    gets the epoch and the network as trained so far)."""
    if isinstance(config, SASRecConfig):
        return train_sasrec(config, data, progress, cancel, on_epoch, after_epoch)
    return train(config, data, progress, cancel, on_epoch, after_epoch)


def save_network_checkpoint(path: str | Path, network: Network, config: NetworkConfig,
                            item_ids: Sequence[object] | np.ndarray, user_ids: Sequence[object] | np.ndarray) -> None:
    """Write a checkpoint of ``network`` (a file per network kind: see the checkpoint modules)."""
    if isinstance(config, SASRecConfig):
        assert isinstance(network, SASRecNetwork)
        save_sasrec_checkpoint(path, network, config, item_ids, user_ids)
    else:
        assert isinstance(network, RecurrentNetwork)
        save_checkpoint(path, network, config, item_ids, user_ids)


def load_network_checkpoint(path: str | Path, model: str,
                            device: str | torch.device = "cpu") -> Checkpoint | SASRecCheckpoint:
    """Read the checkpoint of a network of model ``model``; never executes code from the file."""
    if model in SASREC_MODELS:
        return load_sasrec_checkpoint(path, device)
    return load_checkpoint(path, device)


def network_scorer(network: Network, model: str) -> RecurrentStreamScorer | SASRecStreamScorer:
    """The StreamScorer of a trained network of model ``model``: a recurrent network's, or SASRec's
    (:mod:`engine.models.sasrec_scorer`)."""
    if isinstance(network, SASRecNetwork):
        return SASRecStreamScorer(network, model)
    return RecurrentStreamScorer(network, model)
