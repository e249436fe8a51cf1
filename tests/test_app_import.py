"""Importing by drag and drop: preview dialog, background import, refusals and errors."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import func, select

from app.import_flow import refusal_reason
from engine.data import synthetic
from engine.storage.catalog import list_datasets
from engine.storage.schema import ImportedLog, LogEvent
from tests.app_support import save_screenshot, wait_idle


def drag_and_drop(target, paths: list[Path]) -> bool:
    """Send a drag-enter then a drop of ``paths`` to ``target``; True when the drag was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    target.dragEnterEvent(enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    target.dropEvent(drop)
    return True


def write_shop_log(path: Path) -> Path:
    synthetic.generate_log(synthetic.scaled_config(20_000, seed=3)).to_csv(path, index=False)
    return path


def stored_counts(window) -> tuple[int, int, int]:
    with window.workspace.session() as session:
        logs = session.scalar(select(func.count()).select_from(ImportedLog))
        events = session.scalar(select(func.count()).select_from(LogEvent))
    return len(list_datasets(window.workspace)), logs, events


def test_dropping_a_csv_previews_and_imports_it(window, qtbot, tmp_path: Path) -> None:
    path = write_shop_log(tmp_path / "shop.csv")
    assert drag_and_drop(window, [path])
    qtbot.waitUntil(lambda: window.import_flow.current_dialog is not None, timeout=10_000)
    dialog = window.import_flow.current_dialog
    assert dialog.rows_table.rowCount() == 20
    assert dialog.role_combos["user"].currentText() == "user_id"
    assert dialog.role_combos["time"].currentText() == "timestamp"
    dialog.name_edit.setText("shop")
    save_screenshot(dialog, "import_dialog")
    dialog.accept()
    assert "Importing shop.csv" in window.job_status.job_titles()  # progress and cancel in the status bar
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 2, timeout=20_000)
    assert window.browser.selected_kind_and_id() == ("dataset", window.browser.dataset_ids()[1])
    assert window.browser.topLevelItem(1).text(0) == "shop"
    wait_idle(qtbot, window)


def test_the_mapping_and_preset_are_editable(window, qtbot, tmp_path: Path) -> None:
    path = write_shop_log(tmp_path / "shop.csv")
    window.import_flow.import_paths([path])
    qtbot.waitUntil(lambda: window.import_flow.current_dialog is not None, timeout=10_000)
    dialog = window.import_flow.current_dialog
    dialog.set_role("user", None)
    assert dialog.mapping() is None and not dialog.problem.text() == ""
    dialog.set_role("session", "user_id")
    assert dialog.mapping().session == "user_id"
    dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData("xing"))
    assert dialog.role_combos["event_type"].currentText() == "(none)"  # no interaction_type column
    dialog.reject()


def test_non_log_files_and_folders_are_refused(window, qtbot, tmp_path: Path, monkeypatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    folder = tmp_path / "logs"
    folder.mkdir()
    before = stored_counts(window)
    assert drag_and_drop(window, [picture, folder])
    assert len(warnings) == 1 and "photo.png" in warnings[0] and "folder" in warnings[0]
    assert not window.import_flow.busy()
    assert refusal_reason(picture) and refusal_reason(folder) and refusal_reason(tmp_path / "shop.csv.gz")
    assert stored_counts(window) == before


def test_an_import_error_shows_the_engine_message_and_changes_nothing(window, qtbot, tmp_path: Path,
                                                                      monkeypatch) -> None:
    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: errors.append(text))
    path = tmp_path / "broken.csv"
    path.write_text("user_id,item_id,timestamp\n" + "".join(f"{u},{u % 7},1500000{u:03d}\n" for u in range(40))
                    + "5,3,yesterday\n")
    before = stored_counts(window)
    window.import_flow.import_paths([path])
    qtbot.waitUntil(lambda: window.import_flow.current_dialog is not None, timeout=10_000)
    window.import_flow.current_dialog.accept()
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "yesterday" in errors[0] and "line 42" in errors[0]
    wait_idle(qtbot, window)
    assert stored_counts(window) == before


def test_cancelling_an_import_stores_nothing(window, qtbot, tmp_path: Path) -> None:
    from engine.data.synthetic import SYNTHETIC_MAPPING
    from engine.workbench.importing import ImportRequest

    path = tmp_path / "big.csv"
    synthetic.generate_log(synthetic.scaled_config(300_000, seed=4)).to_csv(path, index=False)
    wait_idle(qtbot, window)
    before = stored_counts(window)
    job = window.import_flow.start_import(ImportRequest(path, mapping=SYNTHETIC_MAPPING))
    cancelled: list[bool] = []
    job.cancelled.connect(lambda: cancelled.append(True))
    # cancel at the child's first report of real work (reading the file), not after a fixed wait
    job.progressed.connect(lambda fraction, message: job.cancel() if fraction > 0.0 else None)
    qtbot.waitUntil(lambda: bool(cancelled) or not window.jobs.running_jobs(), timeout=60_000)
    wait_idle(qtbot, window)
    assert cancelled, "the import finished before it could be cancelled"
    assert stored_counts(window) == before
