"""A first launch (issue 23, item 10): the window fits the screen it opens on; with an invisible Qt
platform ``python main.py`` runs the headless demo instead of a window nobody sees, and its message
does not send the user back to that platform; the desktop app opens the headless demo's workspace
when it is the only one; a run that failed or was killed never reads 100%."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication

from app import launch as launch_module
from app.launch import first_workspace, has_display
from app.main_window_layout import DEFAULT_SIZE, MINIMUM_SIZE, default_size
from tests.app_support import wait_idle


def test_an_invisible_qt_platform_is_no_display(monkeypatch, capsys) -> None:
    import main as main_script

    monkeypatch.setattr(launch_module.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    for platform in ("offscreen", "minimal"):
        monkeypatch.setenv("QT_QPA_PLATFORM", platform)
        assert not has_display()
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert has_display()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setattr(main_script.sys, "argv", ["main.py"])
    calls: list[list[str]] = []
    monkeypatch.setattr("engine.cli.main.main", lambda argv: calls.append(argv) or 0)
    assert main_script.run() == 0 and calls == [["demo"]]
    out = capsys.readouterr().out
    assert "No display" in out and "QT_QPA_PLATFORM" not in out


def test_the_first_launch_opens_the_headless_demos_workspace(tmp_path: Path) -> None:
    default, demo, last = tmp_path / "workspace.sqlite", tmp_path / "demo" / "demo-workspace.sqlite", tmp_path / "l.db"
    assert first_workspace(None, default, demo) == (default, True)  # nothing yet: a new one with the demo dataset
    demo.parent.mkdir()
    demo.write_bytes(b"")
    assert first_workspace(None, default, demo) == (demo, False)  # the headless demo ran: its runs are there
    default.write_bytes(b"")
    assert first_workspace(None, default, demo) == (default, False)
    last.write_bytes(b"")
    assert first_workspace(last, default, demo) == (last, False)
    assert first_workspace(tmp_path / "gone.sqlite", default, demo) == (default, False)


def test_the_window_opens_within_the_screen_and_a_killed_run_never_reads_full(qtbot, app_settings,
                                                                              workspace_path) -> None:
    from app.main_window import MainWindow

    room = QGuiApplication.primaryScreen().availableGeometry()
    width, height = default_size()
    assert width <= DEFAULT_SIZE[0] and height <= DEFAULT_SIZE[1]
    assert width <= max(room.width(), MINIMUM_SIZE[0]) and height <= max(room.height(), MINIMUM_SIZE[1])
    window = MainWindow(app_settings, workspace_path)  # no layout remembered: its first size
    qtbot.addWidget(window)
    assert (window.width(), window.height()) == (width, height)
    panel, queue = window.training_panel, window.queue
    queue.run_started.emit(41, "cpu")
    queue.run_progress.emit(41, 1.0, "evaluating", -1.0)
    panel._flush_progress()
    assert panel.progress_bar.value() == 1000
    queue.run_finished.emit(41, "failed", "the training process ended unexpectedly (signal 9)")
    assert panel.progress_bar.value() == 0 and "failed" in panel.progress_label.text()
    queue.run_started.emit(42, "cpu")
    queue.run_finished.emit(42, "finished", "")
    assert panel.progress_bar.value() == 1000
    wait_idle(qtbot, window)
    window.close()
