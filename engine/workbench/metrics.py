"""The registered metrics as the shells name them: the registry itself (each entry's name, label and
description), the names at cut-offs ("recall@5") and their titles ("Recall@5"). The shells read
these, never a list of their own, so that a metric registered in
:data:`engine.evaluation.metrics.METRICS` appears everywhere."""
from __future__ import annotations

from engine.evaluation.metrics import (
    DEFAULT_CUTOFFS,
    METRICS,
    MetricEntry,
    metric_label,
    metric_names,
    parse_metric_name,
)

__all__ = ["DEFAULT_CUTOFFS", "METRICS", "MetricEntry", "metric_description", "metric_label", "metric_names",
           "parse_metric_name"]


def metric_description(name: str) -> str:
    """What a metric at a cut-off measures, e.g. for ``mrr@10``: "Mean reciprocal rank of the
    target, 0 past K (K = 10)"."""
    kind, k = parse_metric_name(name)
    return f"{METRICS[kind].description} (K = {k})"
