"""The demo: the seeded synthetic demo log imported into a workspace, every registered model
trained (networks for a few epochs) and evaluated, for the headless first run and the desktop app's
first launch."""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs.models import model_entry, model_names
from engine.storage.workspace import Workspace
from engine.training.sasrec_config import SASREC_MODELS
from engine.workbench.importing import ImportOutcome, ImportRequest, import_log
from engine.workbench.run_messages import RunMessage
from engine.workbench.training import execute_runs, plan_runs

DEMO_NAME = "demo (synthetic)"
#: The models the demo compares: every registered model (the paper's baselines and networks, the
#: session-based neighbourhood and rule models with their session-aware variants, SASRec and its twin).
DEMO_MODELS = model_names()
DEMO_EPOCHS = 8
#: SASRec takes an epoch in a few large steps (windows of 50 events), the recurrent networks in many
#: small ones: on the demo log 8 epochs leave it at recall@5 0.12 and 32 reach 0.33 (its twin: 0.49),
#: so the demo gives SASRec and its twin this many times the networks' epochs (about 20 s of one
#: core each at 32).
SASREC_EPOCH_FACTOR = 4


def demo_settings() -> PrepareSettings:
    return PrepareSettings(min_item_support=synthetic.DEMO_MIN_ITEM_SUPPORT)


def default_demo_folder() -> Path:
    """Where the headless demo keeps its workspace (replaced by the next demo)."""
    return Path(platformdirs.user_data_dir("hrnn-workbench", appauthor=False)) / "demo"


def ensure_demo_dataset(workspace: Workspace, folder: Path, progress: ProgressCallback = no_progress,
                        cancel: CancelToken | None = None) -> ImportOutcome:
    """Write the demo log into ``folder`` (if not there) and import it (a no-op when it already is)."""
    path = Path(folder) / "demo-log.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        synthetic.generate_log(synthetic.demo_config(seed=0)).to_parquet(path, index=False)
    return import_log(workspace, ImportRequest(path, mapping=synthetic.SYNTHETIC_MAPPING, settings=demo_settings(),
                                               name=DEMO_NAME), progress, cancel)


def create_demo_dataset(url: str, folder: Path, progress: ProgressCallback, cancel: CancelToken) -> ImportOutcome:
    """:func:`ensure_demo_dataset` in the workspace at ``url`` (for a background worker)."""
    with Workspace(url) as workspace:
        return ensure_demo_dataset(workspace, folder, progress, cancel)


@dataclass(frozen=True)
class DemoOutcome:
    dataset: ImportOutcome
    run_ids: list[int]


def demo_workspace_path(folder: Path | None = None) -> Path:
    """The headless demo's workspace file (in ``folder``, default :func:`default_demo_folder`): the
    desktop app opens it at its first launch, so that the demo's runs are there."""
    return Path(folder if folder is not None else default_demo_folder()) / "demo-workspace.sqlite"


def fresh_demo_workspace(folder: Path) -> Path:
    """The demo's workspace file in ``folder``, after removing the previous demo's (and its
    checkpoints); the demo log itself is kept."""
    location = demo_workspace_path(folder)
    for stale in (location, location.with_name(location.name + "-wal"), location.with_name(location.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(folder / "demo-workspace.checkpoints", ignore_errors=True)
    return location


def run_demo(workspace: Workspace, folder: Path, epochs: int, seeds: int, send: Callable[[RunMessage], None],
             cancel: CancelToken | None = None) -> DemoOutcome:
    """Import the demo log, then train and evaluate :data:`DEMO_MODELS` (baselines once: they are
    deterministic; networks with ``seeds`` seeds and ``epochs`` epochs, SASRec and its twin
    :data:`SASREC_EPOCH_FACTOR` times as many), reporting through ``send``."""
    outcome = ensure_demo_dataset(workspace, folder)
    run_ids: list[int] = []
    for model in DEMO_MODELS:
        if model_entry(model).neural:
            factor = SASREC_EPOCH_FACTOR if model in SASREC_MODELS else 1
            run_ids += plan_runs(workspace, outcome.dataset_id, model, list(range(seeds)),
                                 overrides={"epochs": epochs * factor})
        else:
            run_ids += plan_runs(workspace, outcome.dataset_id, model, [0])
    execute_runs(workspace, run_ids, send, cancel)
    return DemoOutcome(outcome, run_ids)
