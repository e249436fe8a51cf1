"""Scoring a trial on the validation split: a fixed, seeded sample of validation users, each
ranked exactly as the final evaluation ranks (all items, or the dataset's candidates; history fed
first). Scoring a sample rather than every user keeps the per-epoch scoring that pruning needs
cheap next to an epoch of training (BENCHMARKS.md); every trial and every worker of a study scores
the same users."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.data.session_log import PreparedDataset, SessionLog
from engine.errors import EmptyResultError, TrainingDiverged
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken
from engine.training.network_training import Network, network_scorer

#: Validation users scored after each epoch (all of them when the split has fewer).
DEFAULT_VALIDATION_USERS = 500


@dataclass(frozen=True, eq=False)
class ValidationSample:
    """The validation split's training part and the test sessions of the sampled users."""

    train: SessionLog
    test: SessionLog
    n_users: int  # users sampled
    n_users_available: int  # validation users with a session to predict

    @property
    def n_predictions(self) -> int:
        return int((self.test.session_length - 1).sum())


def validation_sample(prepared: PreparedDataset, n_users: int | None, seed: int = 0) -> ValidationSample:
    """``n_users`` validation users drawn with ``seed`` (None or more than there are: all), among
    those with a validation test session of at least 2 events."""
    test = prepared.valid_test
    predictable = np.unique(test.session_user[test.session_length >= 2])
    if not len(predictable):
        raise EmptyResultError("the validation split has no session of 2 or more events to predict: the dataset "
                               "is too small to tune on")
    chosen = predictable
    if n_users is not None and n_users < len(predictable):
        chosen = np.sort(np.random.default_rng(seed).choice(predictable, size=n_users, replace=False))
    keep = np.isin(test.session_user, chosen)
    return ValidationSample(prepared.valid_train, test.select_sessions(keep), int(len(chosen)), int(len(predictable)))


def sample_score(scorer: StreamScorer, sample: ValidationSample, settings: EvaluationSettings, metric: str,
                 cancel: CancelToken | None = None) -> float:
    """``metric`` (e.g. "recall@5", averaged over events) of ``scorer`` on the sample; raises
    :class:`TrainingDiverged` when the model scores targets NaN or infinite."""
    result = evaluate(scorer, sample.train, sample.test, settings, cancel=cancel)
    if result.n_nonfinite_targets:
        raise TrainingDiverged(f"the model scores {result.n_nonfinite_targets:,} of {result.n_events:,} validation "
                               "targets as NaN or infinite")
    value = float(result.mean_metrics("event")[metric])
    if not math.isfinite(value):
        raise TrainingDiverged(f"{metric} on the validation sample is {value}")
    return value


def network_score(network: Network, model: str, sample: ValidationSample, settings: EvaluationSettings,
                  metric: str, cancel: CancelToken | None = None) -> float:
    """:func:`sample_score` of a network in training (its train/eval mode is restored after)."""
    training = network.training
    try:
        return sample_score(network_scorer(network, model), sample, settings, metric, cancel)
    finally:
        network.train(training)
