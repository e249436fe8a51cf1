"""Shared test set-up: headless Qt, quiet OpenMP, one torch thread, paths to the shared real logs,
and every shared fixture (workspaces, a small dataset, the desktop app's settings and window)."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def shared_log(relative: str) -> Path:
    """A real log from ../shared/data, or skip the test with a message where it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real log {relative} not found under {SHARED_DATA} (it is not part of the project)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture
def workspace_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace.sqlite"


@pytest.fixture
def small_dataset(tmp_path: Path):
    """A workspace with a small synthetic dataset (about 1,000 events); yields (workspace, dataset_id)."""
    from engine.data.preparation import PrepareSettings
    from engine.data.synthetic import SYNTHETIC_MAPPING, SyntheticConfig, generate_log
    from engine.storage.workspace import Workspace
    from engine.workbench.importing import ImportRequest, import_log

    log_path = tmp_path / "small.parquet"
    generate_log(SyntheticConfig(n_users=80, n_items=120, n_topics=4, seed=3)).to_parquet(log_path)
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                                      settings=PrepareSettings(min_item_support=2), name="small"))
        yield workspace, outcome.dataset_id


@pytest.fixture
def app_settings(tmp_path: Path, qapp):
    """The desktop app's settings in a temporary folder, never the real user's."""
    from PySide6.QtCore import QSettings

    from app.appearance import apply_appearance
    from app.settings import AppSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    apply_appearance(qapp)
    return AppSettings()


@pytest.fixture
def window(qtbot, app_settings, workspace_path: Path):
    """The main window on a fresh workspace; waits until the demo dataset and its figures are shown."""
    from tests.app_support import open_window

    main_window = open_window(qtbot, app_settings, workspace_path)
    qtbot.waitUntil(lambda: main_window.data_panel.explorer.last_figures is not None, timeout=20_000)
    yield main_window
    main_window.close()
