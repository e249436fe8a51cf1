"""A comparison's final trainings with several workers: the runs are dealt to this process and
child processes, every run ends finished and evaluated, and the children's messages reach the
caller."""
from __future__ import annotations

import dataclasses

from engine.runs import records
from engine.runs.models import build_config
from engine.workbench import parallel_runs
from engine.workbench.parallel_runs import execute_command, execute_runs_in_parallel, shares
from engine.workbench.run_messages import RunEvaluated, RunFinished, RunMessage
from engine.workbench.training import execute_runs


def test_runs_are_dealt_in_turn_so_each_worker_gets_every_model() -> None:
    assert shares([11, 12, 13, 21, 22, 23, 31], 2) == [[11, 13, 22, 31], [12, 21, 23]]
    assert shares([5], 3) == [[5]]  # no empty shares: one run, one process
    assert shares([1, 2, 3], 1) == [[1, 2, 3]]
    assert execute_command("sqlite:///w.sqlite", [4, 9])[-5:] == ["4", "9", "--jsonl", "--workspace",
                                                                  "sqlite:///w.sqlite"]


def test_two_workers_execute_and_evaluate_every_run_and_pass_on_the_childs_messages(small_dataset,
                                                                                   monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    in_process: list[int] = []

    def execute_here(workspace, run_ids, send, cancel):
        in_process.extend(run_ids)
        return execute_runs(workspace, run_ids, send, cancel)

    monkeypatch.setattr(parallel_runs, "execute_runs", execute_here)
    run_ids = []
    for model, seed in (("rnn", 0), ("rnn", 1), ("pop", 0)):
        config = build_config(model, None, {"epochs": 1, "device": "cpu"} if model == "rnn" else {}, seed)
        run_ids.append(records.create_run(workspace, dataset_id, model, dataclasses.asdict(config), seed))
    messages: list[RunMessage] = []
    ended = execute_runs_in_parallel(workspace, run_ids, 2, messages.append)
    assert [run.id for run in ended] == run_ids and in_process == [run_ids[0], run_ids[2]]  # the child ran the 2nd
    assert all(run.status == "finished" for run in ended), [(run.id, run.status, run.error) for run in ended]
    finished = {message.run for message in messages if isinstance(message, RunFinished)}
    evaluated = {message.run for message in messages if isinstance(message, RunEvaluated)}
    assert finished == evaluated == set(run_ids)  # the child's run (the second) is heard of too
