"""Comparison tables of models over seeds: mean and standard deviation per metric, and the
significance of each model's difference from a reference model."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from engine.errors import InputError
from engine.evaluation.significance import DEFAULT_ALPHA, LEVEL_KEYS, Level, compare_models, significance_mark

#: What the Wilcoxon tests can pair the two models' metric values by: each test event, each test
#: session (the mean over its events) or each user (the mean over the user's test events).
LEVELS: tuple[str, ...] = tuple(LEVEL_KEYS)


def aggregate_seeds(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """From ``runs`` (one row per (model, seed) with a column per metric) to one row per (model,
    metric), models in order of appearance and metrics in the given order, with columns model,
    metric, mean, std (sample std, NaN for a single seed), n_seeds."""
    missing = {"model", "seed", *metrics} - set(runs.columns)
    if missing:
        raise InputError(f"the runs table lacks the columns {sorted(missing)}")
    long = runs.melt(id_vars=["model", "seed"], value_vars=list(metrics), var_name="metric")
    table = long.groupby(["model", "metric"], sort=False)["value"].agg(["mean", "std", "count"])
    order = pd.MultiIndex.from_product([runs["model"].unique(), list(metrics)], names=["model", "metric"])
    return table.reindex(order).rename(columns={"count": "n_seeds"}).reset_index()


def comparison_table(
    runs: pd.DataFrame, metrics: Sequence[str], events: Mapping[str, Sequence[pd.DataFrame]],
    reference: str, level: Level = "event", compat_2017: bool = False,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """:func:`aggregate_seeds` plus, for every model but ``reference``, the Wilcoxon p-value of its
    difference from ``reference`` (per-event values, or per-session or per-user means with
    ``level``, averaged over seeds) and a mark when p < alpha. ``events`` maps each model to its runs'
    per-event frames."""
    if level not in LEVELS:
        raise InputError(f"unknown significance level {level!r}; choose one of {', '.join(LEVELS)}")
    table = aggregate_seeds(runs, metrics)
    missing = set(table["model"]) - set(events)
    if missing:
        raise InputError(f"no per-event results for the models {sorted(missing)}")
    p_values, marks = [], []
    for model, metric in zip(table["model"], table["metric"], strict=True):
        if model == reference:
            p_values.append(float("nan"))
            marks.append("")
            continue
        test = compare_models(events[model], events[reference], metric, level, compat_2017, alpha)
        p_values.append(test.p_value)
        marks.append(significance_mark(test.p_value, alpha))
    return table.assign(p_value=p_values, mark=marks)
