"""Shared test set-up: headless Qt, quiet OpenMP, one torch thread, paths to the shared real logs,
and every shared fixture (workspaces, a small dataset, the desktop app's settings and window)."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil
import tempfile

import platformdirs
import pytest

#: The user's real data folder, and what it holds before the tests (they must leave it untouched).
REAL_USER_DATA = Path(platformdirs.user_data_dir("hrnn-workbench", appauthor=False))


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns for path in folder.rglob("*")} \
        if folder.exists() else {}


_REAL_USER_DATA_BEFORE = _snapshot(REAL_USER_DATA)
# Every folder a test (or a process it starts) could write by default is a temporary one: the home
# folder and the XDG data, config, cache and state folders (the per-user workspace, the demo, the
# checkpoints of PostgreSQL workspaces, the app's settings).
_TEST_HOME = Path(tempfile.mkdtemp(prefix="hrnn-tests-home-"))
os.environ["HOME"] = str(_TEST_HOME)
for _variable, _name in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"),
                         ("XDG_STATE_HOME", "state")):
    os.environ[_variable] = str(_TEST_HOME / _name)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def shared_log(relative: str) -> Path:
    """A real log from ../shared/data, or skip the test with a message where it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real log {relative} not found under {SHARED_DATA} (it is not part of the project)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _nothing_written_outside_temporary_folders():
    """The user's real data folder is the same after the tests as before (a test that wrote there
    fails the session); the temporary home is removed."""
    yield
    shutil.rmtree(_TEST_HOME, ignore_errors=True)
    assert _snapshot(REAL_USER_DATA) == _REAL_USER_DATA_BEFORE, f"tests wrote into {REAL_USER_DATA}"


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
def app_settings(tmp_path: Path, qapp, monkeypatch):
    """The desktop app's settings in a temporary folder, never the real user's. A message box the
    test did not expect would wait for a click forever: it is answered at once and fails the test."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from app.appearance import apply_appearance
    from app.main_window import RunsOnClosing
    from app.settings import AppSettings

    unexpected: list[str] = []

    def answer(kind: str, default: QMessageBox.StandardButton):
        def box(_parent, title, text, *_args, **_kwargs):
            unexpected.append(f"{kind} '{title}': {text}")
            return default
        return box

    monkeypatch.setattr(QMessageBox, "warning", answer("warning", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "critical", answer("critical", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "information", answer("information", QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "question", answer("question", QMessageBox.StandardButton.No))
    # a window closed while its runs are queued or training (at a test's end) cancels them
    monkeypatch.setattr("app.main_window.ask_about_runs", lambda *_args: RunsOnClosing.CANCEL)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    apply_appearance(qapp)
    yield AppSettings()
    assert not unexpected, f"unexpected message boxes: {unexpected}"


@pytest.fixture(scope="session")
def demo_workspace_template(tmp_path_factory) -> Path:
    """A workspace holding the demo dataset, made once per session (windows open copies of it)."""
    from engine.storage.workspace import Workspace
    from engine.workbench.demo import ensure_demo_dataset

    folder = tmp_path_factory.mktemp("demo-template")
    with Workspace(folder / "template.sqlite") as workspace:
        ensure_demo_dataset(workspace, folder)
        with workspace.engine.connect() as connection:  # everything in the file itself: copies are whole
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "template.sqlite"


@pytest.fixture
def window(qtbot, app_settings, workspace_path: Path, demo_workspace_template: Path):
    """The main window on a workspace holding the demo dataset; waits until its figures are shown."""
    import shutil

    from tests.app_support import open_window

    shutil.copyfile(demo_workspace_template, workspace_path)
    main_window = open_window(qtbot, app_settings, workspace_path, create_demo=False)
    qtbot.waitUntil(lambda: main_window.data_panel.explorer.last_figures is not None, timeout=60_000)
    yield main_window
    main_window.close()
