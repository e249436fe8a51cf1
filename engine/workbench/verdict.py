"""A comparison's verdict in a few plain sentences: the best model; whether each personalized model
beats its session-only twin (HRNN Init against RNN), by how much and how significantly; where the
gain sits (history length, position in the session); the strongest simple baseline; and what was
spent. Honest where personalization loses. The same sentences end ``compare`` (tuned models) and
the demo (untuned presets, which the verdict then says)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from engine.errors import WorkbenchError
from engine.evaluation.breakdowns import SHORT_HISTORY_MAX_SESSIONS
from engine.evaluation.metrics import parse_metric_name
from engine.evaluation.popularity import candidates_phrase
from engine.evaluation.ranking import DEFAULT_TIE_MODE, TieMode
from engine.evaluation.significance import DEFAULT_ALPHA
from engine.evaluation.ties import TIE_MODE_NAMES
from engine.runs.models import MODELS
from engine.workbench.results import DatasetResults, breakdown, comparison, protocol_text

#: Breakdowns whose groups say where a personalized model's gain sits: each group's phrase, and its
#: short name when another group is named first.
_WHERE = {
    "history": {"short": (f"users with short histories (<= {SHORT_HISTORY_MAX_SESSIONS} sessions)", "short"),
                "long": (f"users with long histories (> {SHORT_HISTORY_MAX_SESSIONS} sessions)", "long")},
    "position": {"beginning": ("at the beginning of sessions (predictions 1-2)", "beginning"),
                 "middle": ("in the middle of sessions (predictions 3-4)", "middle"),
                 "end": ("at the end of sessions (predictions 5+)", "end")},
}


@dataclass(frozen=True)
class TwinComparison:
    """A personalized model against its session-only twin on the verdict's metric: their means over
    seeds, the relative gain (NaN when the twin scores 0) and the Wilcoxon p-value (paired by event)."""

    model: str  # label
    twin: str  # label
    model_name: str
    twin_name: str
    mean: float
    twin_mean: float
    p_value: float

    @property
    def gain(self) -> float:
        return self.mean / self.twin_mean - 1.0 if self.twin_mean > 0 else math.nan

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p_value) and self.p_value < DEFAULT_ALPHA


@dataclass(frozen=True)
class Verdict:
    """The sentences, and what they were read from."""

    sentences: tuple[str, ...]
    metric: str
    best: str  # the best model's label
    twins: tuple[TwinComparison, ...] = ()
    #: the verdict in at most :data:`SUMMARY_LINES` lines, the best model first
    summary: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.sentences)


#: The most lines of a verdict's summary.
SUMMARY_LINES = 6


def _percent(value: float) -> str:
    return f"{value * 100:+.1f}%" if math.isfinite(value) else "n/a"


#: Below this a p-value is shown as a bound: on large test splits the Wilcoxon p-value underflows to 0.
SMALLEST_P_SHOWN = 1e-300


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "p not computable"
    return f"p = {value:.2g}" if value >= SMALLEST_P_SHOWN else f"p < {SMALLEST_P_SHOWN:.0e}"


def _label_of(results: DatasetResults, model: str) -> str | None:
    """The first label of registered model ``model`` among the results."""
    rows = results.runs.loc[results.runs["model_name"] == model, "model"]
    return str(rows.iloc[0]) if len(rows) else None


def _means(results: DatasetResults, metric: str) -> pd.Series:
    """Mean over seeds of ``metric`` per label, in the results' order."""
    return results.runs.groupby("model", sort=False)[metric].mean()


def _hierarchical(model: str) -> bool:
    """HRNN Init and All: the networks fed the user's past sessions one by one."""
    return model in MODELS and MODELS[model].neural and MODELS[model].history == "session_inputs"


def twin_comparisons(results: DatasetResults, metric: str) -> list[TwinComparison]:
    """Every model of the results whose session-only twin is there too (HRNN first)."""
    means = _means(results, metric)
    pairs = []
    for entry in MODELS:
        label = _label_of(results, entry.name)
        twin = _label_of(results, entry.session_twin) if entry.session_twin else None
        if label is None or twin is None:
            continue
        table = comparison(results, [parse_metric_name(metric)[1]], reference=twin)
        row = table[(table["model"] == label) & (table["metric"] == metric)].iloc[0]
        pairs.append(TwinComparison(label, twin, entry.name, str(entry.session_twin), float(means[label]),
                                    float(means[twin]), float(row["p_value"])))
    return sorted(pairs, key=lambda pair: not _hierarchical(pair.model_name))


def short_names(results: DatasetResults) -> dict[str, str]:
    """Each label's name in sentences: the model's own label ("HRNN Init") when it is the model's
    only label in the results, else the label itself ("RNN, small, epochs=8")."""
    per_model = results.runs.groupby("model_name", sort=False)["model"].unique()
    names = {}
    for model, labels in per_model.items():
        for label in labels:
            names[str(label)] = MODELS[str(model)].label if len(labels) == 1 and model in MODELS else str(label)
    return names


def _twin_sentence(pair: TwinComparison, metric: str, names: dict[str, str], tuned: bool) -> str:
    model, twin = names[pair.model], names[pair.twin]
    here = "here" if tuned else "here with these untuned settings"
    values = f"{pair.mean:.4f} against {pair.twin_mean:.4f}"
    test = f"{_p(pair.p_value)}, Wilcoxon signed-rank paired by event"
    if pair.mean > pair.twin_mean and pair.significant:
        return (f"{model} beats its session-only twin {twin} by {_percent(pair.gain)} {metric} ({values}; {test}): "
                f"significant at {DEFAULT_ALPHA:g}.")
    if pair.mean > pair.twin_mean:
        return (f"{model} scores {_percent(pair.gain)} {metric} above its session-only twin {twin} ({values}; "
                f"{test}), not significant at {DEFAULT_ALPHA:g}: no proof that personalization pays off {here}.")
    significance = "significantly" if pair.significant else "though not significantly"
    return (f"{model} does not beat its session-only twin {twin}: {_percent(pair.gain)} {metric} ({values}; "
            f"{test}), {significance} worse: personalization does not pay off {here}.")


def _group_gains(results: DatasetResults, pair: TwinComparison, metric: str, kind: str) -> list[tuple[str, float]]:
    """(group, relative gain of the model over its twin) in the breakdown ``kind``'s group order."""
    table = breakdown(results, kind, [parse_metric_name(metric)[1]])
    if table.empty:
        return []
    column = f"{metric}_mean"
    model = table[table["model"] == pair.model].set_index("group")[column]
    twin = table[table["model"] == pair.twin].set_index("group")[column]
    return [(str(group), value / twin[group] - 1.0 if twin[group] > 0 else math.nan)
            for group, value in model.items() if group in twin.index]


def _where_sentence(results: DatasetResults, pair: TwinComparison, metric: str, names: dict[str, str]) -> str | None:
    """Where the model's difference from its twin is largest (a gain) or smallest (a loss): history
    length, position in the session."""
    gains_overall = pair.mean >= pair.twin_mean
    parts = []
    for kind, phrases in _WHERE.items():
        gains = [(group, gain) for group, gain in _group_gains(results, pair, metric, kind)
                 if math.isfinite(gain) and group in phrases]
        if len(gains) < 2:
            continue
        top_group, top_gain = max(gains, key=lambda item: item[1])
        others = ", ".join(f"{phrases[group][1]} {_percent(gain)}" for group, gain in gains if group != top_group)
        parts.append(f"{phrases[top_group][0]} ({_percent(top_gain)}; {others})")
    if not parts:
        return None
    model, twin = names[pair.model], names[pair.twin]
    if gains_overall:
        return f"Where the gain sits: {model} gains most over {twin} for " + " and ".join(parts) + "."
    return f"Where it loses: {model} loses least to {twin} for " + " and ".join(parts) + "."


def _best_sentences(results: DatasetResults, metric: str, names: dict[str, str]) -> tuple[str, list[str]]:
    means = _means(results, metric).sort_values(ascending=False, kind="stable")
    best = str(means.index[0])
    seeds = int((results.runs["model"] == best).sum())
    sentence = f"Best: {names[best]}, {metric} {means.iloc[0]:.4f} (mean of {seeds} seed{'s' if seeds != 1 else ''})"
    if len(means) > 1:
        second = str(means.index[1])
        table = comparison(results, [parse_metric_name(metric)[1]], reference=best)
        p_value = float(table[(table["model"] == second) & (table["metric"] == metric)]["p_value"].iloc[0])
        settled = "significant" if math.isfinite(p_value) and p_value < DEFAULT_ALPHA else "not significant"
        sentence += f", ahead of {names[second]} ({means.iloc[1]:.4f}; {_p(p_value)}, {settled})"
    sentences = [sentence + "."]
    kinds = results.runs.groupby("model", sort=False)["model_name"].first()
    baselines = [label for label in means.index if kinds[label] in MODELS and not MODELS[kinds[label]].neural]
    networks = [label for label in means.index if label not in baselines]
    if baselines and networks:
        baseline, network = str(baselines[0]), str(networks[0])
        gap = means[network] / means[baseline] - 1.0 if means[baseline] > 0 else math.nan
        position = "above" if means[network] >= means[baseline] else "below"
        sentences.append(f"The strongest simple baseline is {names[baseline]} ({means[baseline]:.4f}); the best "
                         f"network, {names[network]}, is {_percent(abs(gap)).lstrip('+')} {position} it.")
    return best, sentences


def _share(value: float) -> str:
    """A share in percent: whole percents, one decimal below 1% (so that a small share is not 0%)."""
    return f"{value:.0%}" if value >= 0.01 or value == 0 else f"{value:.1%}"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


#: At most this many models are named in the warning about tie handling.
_TIE_WARNING_MODELS = 5


def tie_sentences(results: DatasetResults, metric: str, names: dict[str, str]) -> list[str]:
    """The protocol's tie handling in words, and a warning where a model's place among the compared
    models differs between optimistic and conservative ties (the other mode's ranks follow exactly
    from the stored tie counts)."""
    return _tie_sentences(results, metric, names)[0]


def _tie_sentences(results: DatasetResults, metric: str, names: dict[str, str]) -> tuple[list[str], str]:
    """:func:`tie_sentences` and their summary in one line."""
    mode = results.settings.tie_mode
    sentences = [f"Ranks: {protocol_text(results.settings)}; {metric} is averaged over events."]
    short = f"Ranks: {TIE_MODE_NAMES[mode]} ties, among {candidates_phrase(results.settings.n_candidates)}"
    other_mode: TieMode = "standard" if mode != "standard" else DEFAULT_TIE_MODE
    if not results.ties_known:
        sentences.append("Some evaluations were stored without their tie counts, so whether a standing depends on "
                         "how ties are counted is not known: evaluate those runs again.")
        return sentences, short + "; whether a place depends on them is not known (tie counts missing)."
    if len(results.models) < 2:
        return sentences, short + "."
    here = _means(results, metric).sort_values(ascending=False, kind="stable")
    there_means = _means(results.in_tie_mode(other_mode), metric)
    there = there_means.sort_values(ascending=False, kind="stable")
    place_here = {str(label): index + 1 for index, label in enumerate(here.index)}
    place_there = {str(label): index + 1 for index, label in enumerate(there.index)}
    moved = sorted((label for label in place_here if place_here[label] != place_there[label]),
                   key=lambda label: (-abs(place_here[label] - place_there[label]), place_here[label]))
    other_name = TIE_MODE_NAMES[other_mode]
    if not moved:
        sentences.append(f"No standing depends on tie handling: with {other_name} ties the models keep their order.")
        return sentences, short + "; no place depends on them."
    tied = results.runs.groupby("model", sort=False)["tied_share"].mean()
    changed = [label for label in moved if abs(there_means[label] - here[label]) > 1e-12]  # gain or lose by ties
    carried = [label for label in moved if label not in changed]  # moved only because others did
    parts = []
    for label in changed[:_TIE_WARNING_MODELS]:
        direction = "rise" if place_there[label] < place_here[label] else "fall"
        parts.append(f"{names[label]} would {direction} from {_ordinal(place_here[label])} to "
                     f"{_ordinal(place_there[label])} ({there_means[label]:.4f} instead of {here[label]:.4f}; "
                     f"{_share(tied[label])} of its targets tied)")
    if len(changed) > _TIE_WARNING_MODELS:
        parts.append(f"{len(changed) - _TIE_WARNING_MODELS} more would move for the same reason")
    sentence = f"Warning: the standings depend on how ties are counted. With {other_name} ties, " + "; ".join(parts)
    if carried:
        shown = [names[label] for label in carried[:_TIE_WARNING_MODELS]]
        more = len(carried) - len(shown)
        sentence += (f"; {', '.join(shown)}{f' and {more} more' if more else ''} would move as a result, with "
                     "unchanged scores")
    sentences.append(sentence + ".")
    risers = [label for label in changed if place_there[label] < place_here[label]]
    first = min(risers, key=lambda label: (place_there[label], place_here[label])) if risers else changed[0]
    short += (f"; places depend on them: with {other_name} ties {names[first]} would be "
              f"{_ordinal(place_there[first])}, not {_ordinal(place_here[first])}"
              + (f", and {len(moved) - 1} other model{'s' if len(moved) > 2 else ''} would move"
                 if len(moved) > 1 else "")
              + ".")
    return sentences, short


def build_verdict(results: DatasetResults, metric: str, spent: Sequence[str] = (), tuned: bool = True) -> Verdict:
    """The verdict on ``results`` (finished, evaluated runs) by ``metric``, ending with the
    sentences ``spent`` (budget and time, or why the models were not tuned). ``tuned``: whether
    the models were tuned on this log (else the sentences speak of these settings only)."""
    if results.runs.empty:
        raise WorkbenchError("no evaluated runs: nothing to give a verdict on")
    names = short_names(results)
    best, sentences = _best_sentences(results, metric, names)
    pairs = twin_comparisons(results, metric)
    sentences += [_twin_sentence(pair, metric, names, tuned) for pair in pairs]
    hierarchical = [pair for pair in pairs if _hierarchical(pair.model_name)] or pairs
    where = None
    if hierarchical:
        where = _where_sentence(results, max(hierarchical, key=lambda pair: pair.mean), metric, names)
        if where is not None:
            sentences.append(where)
    ties, ties_short = _tie_sentences(results, metric, names)
    sentences += ties
    sentences.extend(spent)
    summary = [sentences[0], *_personalization_summary(pairs, metric, names, tuned)]
    if where is not None and hierarchical:
        summary.append(where)
    summary.append(ties_short)
    if spent:
        summary.append(spent[-1])
    return Verdict(tuple(sentences), metric, best, tuple(pairs), tuple(summary[:SUMMARY_LINES]))


def _personalization_summary(pairs: Sequence[TwinComparison], metric: str, names: dict[str, str],
                             tuned: bool) -> list[str]:
    """One line on every personalized model against its session-only twin: where it pays off
    (significantly better) and where it does not."""
    if not pairs:
        return []

    def shown(pair: TwinComparison) -> str:
        return f"{names[pair.model]} over {names[pair.twin]} {_percent(pair.gain)}"

    pays = [shown(pair) for pair in pairs if pair.mean > pair.twin_mean and pair.significant]
    not_proven = [shown(pair) for pair in pairs if pair.mean > pair.twin_mean and not pair.significant]
    loses = [shown(pair) for pair in pairs if pair.mean <= pair.twin_mean]
    parts = []
    if pays:
        parts.append(f"pays off (significantly) for {', '.join(pays)}")
    if not_proven:
        parts.append(f"is not proven (not significant) for {', '.join(not_proven)}")
    if loses:
        parts.append(f"does not pay off for {', '.join(loses)}")
    here = "" if tuned else " with these untuned settings"
    return [f"Personalization{here} ({metric} against the session-only twin) " + "; ".join(parts) + "."]


def untuned_note(dataset: str) -> str:
    """The demo's reminder that its presets are untuned, and how to get a fair verdict."""
    return ("These are the paper's presets, tuned on XING and not on this log: they say which presets suit XING, not "
            "whether personalization pays off here. For a fair verdict, tune every model with the same budget: "
            f"python main.py compare {dataset}")
