"""A fair verdict: compare tunes every chosen model with one budget, trains the best with seeds,
evaluates on the test split and stores its verdict; the verdict's sentences, checked on handmade
ranks where HRNN wins and where it loses."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import Cancelled
from engine.evaluation.metrics import mean_metrics
from engine.evaluation.ties import TieSummary
from engine.progress import CancelToken
from engine.runs import records
from engine.tuning.comparisons import get_comparison, list_comparisons
from engine.workbench.compare import CompareRequest, compare
from engine.workbench.results import DatasetResults, collect_results, load_results
from engine.workbench.verdict import build_verdict, untuned_note


def _events(ranks: np.ndarray, history: np.ndarray, position: np.ndarray,
            tied: np.ndarray | None = None) -> pd.DataFrame:
    n = len(ranks)
    tied = np.zeros(n) if tied is None else tied
    return pd.DataFrame({"user": np.arange(n) // 4, "session": np.arange(n) // 4, "position": position,
                         "session_length": np.full(n, 8), "history_length": history, "item": np.arange(n) % 7,
                         "rank": ranks.astype(np.float64), "tied": tied.astype(np.float64),
                         "floor": (tied > 0).astype(np.float64)})


def _results(models: dict[tuple[str, str], list[np.ndarray]], history: np.ndarray,
             position: np.ndarray, ties: dict[str, np.ndarray] | None = None) -> DatasetResults:
    """Handmade results: per (label, model name), the conservative ranks of each seed (and the items
    tied with each target, ``ties[label]``; none by default)."""
    rows, events = [], {}
    for (label, name), seeds in models.items():
        for seed, ranks in enumerate(seeds):
            tied = (ties or {}).get(label, np.zeros(len(ranks)))
            rows.append({"model": label, "model_name": name, "seed": seed, "run_id": len(rows) + 1, "tuned": True,
                         **mean_metrics(ranks, (5,)), **TieSummary.of(tied, tied > 0).as_dict()})
            events.setdefault(label, []).append(_events(ranks, history, position, tied))
    return DatasetResults(pd.DataFrame(rows), events)


def _ranks(seed: int, n: int, good: np.ndarray) -> np.ndarray:
    """Ranks 1..50 at random, rank 1 where ``good``."""
    ranks = np.random.default_rng(seed).integers(1, 50, n)
    return np.where(good, 1, ranks)


N = 800
HISTORY = np.where(np.arange(N) % 2 == 0, 3, 12)  # every other event: a user with a long history
POSITION = np.arange(N) % 8 + 1


def test_the_verdict_says_where_hrnn_gains() -> None:
    base = np.arange(N) % 5 == 0
    long_start = base | ((HISTORY > 6) & (POSITION <= 2) & (np.arange(N) % 3 == 0))
    results = _results({("Pop", "pop"): [_ranks(9, N, np.arange(N) % 20 == 0)],
                        ("RNN", "rnn"): [_ranks(1, N, base), _ranks(2, N, base)],
                        ("HRNN Init", "hrnn-init"): [_ranks(3, N, long_start), _ranks(4, N, long_start)]},
                       HISTORY, POSITION)
    verdict = build_verdict(results, "recall@5", ["Spent: nothing."])
    lines = verdict.sentences
    assert verdict.best == "HRNN Init" and lines[0].startswith("Best: HRNN Init, recall@5 0.")
    assert "ahead of RNN" in lines[0] and "significant" in lines[0]
    assert lines[1].startswith("The strongest simple baseline is Pop")
    (pair,) = verdict.twins
    assert pair.significant and pair.gain > 0
    assert lines[2].startswith(f"HRNN Init beats its session-only twin RNN by +{pair.gain * 100:.1f}% recall@5")
    assert "p = " in lines[2] and "significant at 0.01" in lines[2]
    assert lines[3].startswith("Where the gain sits: HRNN Init gains most over RNN for users with long histories")
    assert "at the beginning of sessions (predictions 1-2)" in lines[3]
    assert lines[4].startswith("Ranks: targets ranked among all items, with conservative ties")
    assert lines[5] == "No standing depends on tie handling: with optimistic ties the models keep their order."
    assert lines[-1] == "Spent: nothing."


def test_the_verdict_warns_when_a_standing_depends_on_ties() -> None:
    """Markov gives a third of the targets nothing (tied with 900 items: rank 901 conservatively, 1
    optimistically). Conservatively RNN is first and Markov last; optimistically Markov is first."""
    base = np.arange(N) % 5 == 0
    nothing = np.arange(N) % 3 == 0
    markov = np.where(nothing, 901, _ranks(7, N, np.arange(N) % 6 == 0))
    results = _results({("Markov", "markov"): [markov],
                        ("RNN", "rnn"): [_ranks(1, N, base)],
                        ("HRNN Init", "hrnn-init"): [_ranks(3, N, base)]},
                       HISTORY, POSITION, ties={"Markov": np.where(nothing, 900, 0)})
    standard = results.in_tie_mode("standard")
    assert standard.runs.set_index("model").loc["Markov", "recall@5"] > 0.35
    assert results.runs.set_index("model").loc["Markov", "recall@5"] < 0.2
    verdict = build_verdict(results, "recall@5")
    assert verdict.best != "Markov"
    warning = next(line for line in verdict.sentences if line.startswith("Warning:"))
    assert "the standings depend on how ties are counted. With optimistic ties, Markov would rise from 3rd to 1st (" \
        in warning
    assert "33% of its targets tied)" in warning
    assert len(verdict.summary) <= 6 and verdict.summary[0] == verdict.sentences[0]
    assert verdict.summary[-1] == ("Ranks: conservative ties, among all items; places depend on them: with optimistic "
                                   "ties Markov would be 1st, not 3rd, and 2 other models would move.")
    assert "Personalization (recall@5 against the session-only twin) " in verdict.summary[1]
    # RNN and HRNN Init tie nothing: they move down only because Markov moves up
    assert warning.endswith("RNN, HRNN Init would move as a result, with unchanged scores.") or \
        warning.endswith("HRNN Init, RNN would move as a result, with unchanged scores.")


def test_a_verdict_on_evaluations_without_tie_counts_says_it_cannot_tell() -> None:
    results = _results({("RNN", "rnn"): [_ranks(1, N, np.arange(N) % 5 == 0)],
                        ("Pop", "pop"): [_ranks(2, N, np.arange(N) % 9 == 0)]}, HISTORY, POSITION)
    for frames in results.events.values():
        frames[0]["tied"] = np.nan
    text = build_verdict(results, "recall@5").text
    assert "stored without their tie counts, so whether a standing depends on how ties are counted is not known" \
        in text


def test_the_verdict_is_honest_when_hrnn_loses() -> None:
    good = np.arange(N) % 4 == 0
    worse = good & (np.arange(N) % 8 != 0)
    results = _results({("Item-KNN", "item-knn"): [_ranks(5, N, good)],
                        ("RNN, small", "rnn"): [_ranks(1, N, good)],
                        ("HRNN Init, small", "hrnn-init"): [_ranks(3, N, worse)]}, HISTORY, POSITION)
    verdict = build_verdict(results, "recall@5", [untuned_note("7")], tuned=False)
    text = verdict.text
    assert "HRNN Init does not beat its session-only twin RNN: -" in text
    assert "significantly worse: personalization does not pay off here with these untuned settings" in text
    assert "The strongest simple baseline is Item-KNN" in text and "Where it loses: HRNN Init loses least" in text
    assert text.endswith("python main.py compare 7")


def test_a_p_value_that_underflows_is_shown_as_a_bound() -> None:
    from engine.workbench.verdict import _p

    assert _p(0.0123) == "p = 0.012" and _p(2e-300) == "p = 2e-300"
    assert _p(0.0) == "p < 1e-300" and _p(float("nan")) == "p not computable"


@pytest.mark.slow
def test_compare_tunes_trains_the_best_with_seeds_and_stores_the_verdict(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    request = CompareRequest(dataset_id, ("hrnn-init", "pop", "rnn"), n_trials=2, seeds=2, metric="recall@10",
                             fixed={"epochs": 1}, validation_users=30, device="cpu", patience=0)
    trials: list[tuple[str, int]] = []
    outcome = compare(workspace, request, on_trial=lambda model, trial: trials.append((model, trial.number)))
    assert trials == [("rnn", 0), ("rnn", 1), ("hrnn-init", 0), ("hrnn-init", 1)]
    by_model = {result.model: result for result in outcome.models}
    assert list(by_model) == ["pop", "rnn", "hrnn-init"]  # the registry's order
    cid = outcome.comparison_id
    assert by_model["pop"].study is None and by_model["pop"].note.startswith("nothing to tune")
    assert by_model["rnn"].study == f"compare-{cid}-rnn" and by_model["rnn"].label == f"RNN, tuned #{cid}"
    assert len(by_model["rnn"].run_ids) == 2 and len(by_model["pop"].run_ids) == 1
    best = by_model["hrnn-init"]
    for run_id in best.run_ids:
        run = records.get_run(workspace, run_id)
        assert not run.validation and run.study == f"compare-{cid}" and run.status == "finished"
        assert run.config["learning_rate"] == best.config["learning_rate"] and run.config["epochs"] == 1
    assert set(outcome.table["model"]) == {"Pop", f"RNN, tuned #{cid}", f"HRNN Init, tuned #{cid}"}
    assert outcome.reference == f"RNN, tuned #{cid}" and outcome.ks == (5, 10, 20)
    text = outcome.verdict.text
    assert "HRNN Init" in text and "session-only twin RNN" in text and "p = " in text
    assert "Pop has no settings to tune" in text and "2 trials" in text and "(1 worker, 4 trials in all)" in text
    stored = get_comparison(workspace, cid)
    assert stored.status == "finished" and stored.verdict == text and stored.metric == "recall@10"
    assert stored.best_runs["rnn"]["runs"] == list(by_model["rnn"].run_ids)
    assert list_comparisons(workspace, dataset_id)[0].id == cid
    # the Results panel tells the comparison's rows from preset rows
    (preset_run,) = records.list_runs(workspace, dataset_id)[-1:]  # the last test run: tuned
    results = collect_results(workspace, dataset_id)
    assert results.runs["tuned"].all() and preset_run.study == f"compare-{cid}"
    snapshot = load_results(workspace.url, dataset_id, None, lambda *_: None, CancelToken())
    assert all(row["tuned"] for row in snapshot.rows.values())


def test_compare_of_baselines_stores_tuned_rows_and_the_verdict(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    request = CompareRequest(dataset_id, ("personal-pop", "item-knn"), n_trials=2, seeds=3, validation_users=30)
    outcome = compare(workspace, request)
    knn = outcome.models[1]
    fill = ", popularity fill" if records.get_run(workspace, knn.run_ids[0]).config["popularity_fill"] else ""
    assert knn.label == f"Item-KNN, tuned #{outcome.comparison_id}{fill}" and len(knn.run_ids) == 1  # deterministic
    assert records.get_run(workspace, knn.run_ids[0]).config["n_neighbors"] == knn.config["n_neighbors"]
    assert outcome.verdict.sentences[0].startswith("Best: ")
    assert get_comparison(workspace, outcome.comparison_id).verdict == outcome.verdict.text
    assert collect_results(workspace, dataset_id).runs["tuned"].all()


def test_a_cancelled_comparison_is_stored_as_cancelled(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    cancel = CancelToken()

    def cancel_at_the_first_trial(model: str, trial) -> None:
        cancel.cancel()

    request = CompareRequest(dataset_id, ("item-knn",), n_trials=3, seeds=1, validation_users=30)
    with pytest.raises(Cancelled):
        compare(workspace, request, cancel=cancel, on_trial=cancel_at_the_first_trial)
    (stored,) = list_comparisons(workspace, dataset_id)
    assert stored.status == "cancelled" and stored.verdict is None
    assert not [run for run in records.list_runs(workspace, dataset_id) if not run.validation]
