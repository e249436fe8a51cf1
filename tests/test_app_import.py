"""Importing from the window: drag and drop, the preview dialog (column detection that keeps what it
found, the session and filter settings, impossible settings refused with the field named), the
background import with a moving progress bar, a refusal that reopens the dialog with its field
marked (the raw log already stored), every event type of the whole log offered, a tiny log whose
refusal points at the idle threshold (the marked spin box keeps its arrows), a tiny dataset's
warning, refusals of what is not a log, cancel, and item names dropped onto a dataset."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox, QStyle, QStyleOptionSpinBox
from sqlalchemy import func, select

from app.import_flow import refusal_reason
from engine.data import synthetic
from engine.storage.catalog import list_datasets, list_logs
from engine.storage.item_names import item_labels
from engine.storage.schema import ImportedLog, LogEvent
from tests.app_support import opened, save_screenshot, wait_for_overview, wait_idle
from tests.conftest import shared_log


def drag_and_drop(target, paths: list[Path], where: QPoint | None = None) -> bool:
    """Send a drag-enter then a drop of ``paths`` to ``target`` (at ``where``, default the
    middle of the window); True when the drag was accepted."""
    where = where or QPoint(400, 300)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    target.dragEnterEvent(enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    target.dropEvent(drop)
    return True


def write_shop_log(path: Path, events: int = 20_000) -> Path:
    synthetic.generate_log(synthetic.scaled_config(events, seed=3)).to_csv(path, index=False)
    return path


def stored_counts(window) -> tuple[int, int, int]:
    with opened(window) as workspace:
        with workspace.session() as session:
            logs = session.scalar(select(func.count()).select_from(ImportedLog))
            events = session.scalar(select(func.count()).select_from(LogEvent))
        return len(list_datasets(workspace)), logs, events


def dialog_of(qtbot, window):
    qtbot.waitUntil(lambda: window.import_flow.current_dialog is not None, timeout=30_000)
    return window.import_flow.current_dialog


def test_dropping_a_csv_previews_and_imports_it_with_a_moving_progress_bar(window, qtbot, tmp_path: Path) -> None:
    path = write_shop_log(tmp_path / "shop.csv", 200_000)
    assert drag_and_drop(window, [path])
    dialog = dialog_of(qtbot, window)
    assert dialog.rows_table.rowCount() == 20
    assert dialog.role_combos["user"].currentText() == "user_id"
    assert dialog.role_combos["time"].currentText() == "timestamp"
    dialog.name_edit.setText("shop")
    save_screenshot(dialog, "import_dialog")
    fractions: list[float] = []
    window.jobs.jobs_changed.connect(lambda: [job.progressed.connect(lambda f, m: fractions.append(f))
                                              for job in window.jobs.running_jobs()
                                              if job.title.startswith("Importing") and not fractions])
    dialog.accept()
    assert "Importing shop.csv" in window.job_status.job_titles()  # progress and cancel in the status bar
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 2, timeout=60_000)
    assert len({round(f, 2) for f in fractions if 0.0 < f < 1.0}) >= 3  # the bar moves (reading: test_import_progress)
    qtbot.waitUntil(lambda: window.browser.selected_kind_and_id() == ("dataset", window.browser.dataset_ids()[1]),
                    timeout=10_000)
    assert window.browser.topLevelItem(1).text(0) == "shop"
    wait_idle(qtbot, window)


def test_the_mapping_and_preset_are_editable(window, qtbot, tmp_path: Path) -> None:
    path = write_shop_log(tmp_path / "shop.csv")
    window.import_flow.import_paths([path])
    dialog = dialog_of(qtbot, window)
    dialog.set_role("user", None)
    assert dialog.mapping() is None and "Choose the item and time columns" in dialog.problem.text()
    assert dialog.role_combos["user"].property("invalid")
    dialog.set_role("session", "user_id")
    assert dialog.mapping().session == "user_id"
    dialog.preset_combo.setCurrentIndex(dialog.preset_combo.findData("xing"))
    assert dialog.role_combos["event_type"].currentText() == "(none)"  # no interaction_type column
    dialog.reject()


def test_a_check_in_log_is_detected_and_one_column_given_keeps_the_others(window, qtbot, tmp_path: Path) -> None:
    path = tmp_path / "checkins.csv"
    path.write_text("user_id,venue_id,timestamp,comment\n" + "".join(
        f"{u},v{(u * 7 + k) % 13},{1_500_000_000 + 600 * k + 86_400 * u},x\n" for u in range(3) for k in range(5)))
    window.import_flow.import_paths([path])
    dialog = dialog_of(qtbot, window)
    assert (dialog.role_combos["user"].currentText(), dialog.role_combos["item"].currentText(),
            dialog.role_combos["time"].currentText()) == ("user_id", "venue_id", "timestamp")
    assert dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.set_role("item", "comment")
    assert dialog.role_combos["user"].currentText() == "user_id"  # the others keep what was detected
    assert dialog.role_combos["time"].currentText() == "timestamp"
    dialog.reject()


def test_the_dialog_refuses_impossible_settings_naming_the_field(window, qtbot, tmp_path: Path) -> None:
    window.import_flow.import_paths([write_shop_log(tmp_path / "shop.csv")])
    dialog = dialog_of(qtbot, window)
    form = dialog.form
    form.max_user_sessions.setValue(3)
    assert dialog.problem.text() == "Max sessions per user (3) is below Min sessions per user (5)"
    assert form.max_user_sessions.property("invalid")
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    save_screenshot(dialog, "import_dialog_refusal")
    form.max_user_sessions.setValue(0)
    assert dialog.problem.text() == "" and dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    assert not form.max_user_sessions.property("invalid")
    dialog.reject()


def spin_has_arrows(spin) -> bool:
    """Whether the spin box draws its up and down arrows (dark pixels in both buttons)."""
    option = QStyleOptionSpinBox()
    spin.initStyleOption(option)
    image = spin.grab().toImage()
    for control in (QStyle.SubControl.SC_SpinBoxUp, QStyle.SubControl.SC_SpinBoxDown):
        rect = spin.style().subControlRect(QStyle.ComplexControl.CC_SpinBox, option, control, spin)
        dark = [image.pixelColor(x, y).lightness() < 110 for x in range(rect.left(), rect.right())
                for y in range(rect.top(), rect.bottom())]
        if not rect.isValid() or not any(dark):
            return False
    return True


def test_a_tiny_log_the_guides_loose_filters_leave_without_test_sessions_points_at_the_threshold(window,
                                                                                                  qtbot) -> None:
    """The OTTO sample with item support 1 and 2 sessions per user (the user guide's loose filters):
    at 30 minutes no test session keeps an item seen in training, and item support is 1 already;
    the refusal names the idle threshold (marked, its arrows kept), and 2 hours import it."""
    otto = shared_log("otto_tiny/train_first20_sessions.jsonl")
    window.import_flow.import_paths([otto])
    dialog = dialog_of(qtbot, window)
    assert dialog.preset_combo.currentData() == "otto"
    dialog.form.min_item_support.setValue(1)
    dialog.form.min_user_sessions.setValue(2)
    dialog.accept()
    qtbot.waitUntil(lambda: window.import_flow.current_dialog not in (None, dialog), timeout=60_000)
    again = window.import_flow.current_dialog
    assert "min item support is already 1" in again.problem.text()
    assert "lower the min item support" not in again.problem.text()
    assert "Change “Idle threshold” and import again." in again.problem.text()
    assert again.form.threshold_spin.property("invalid") and spin_has_arrows(again.form.threshold_spin)
    save_screenshot(again, "import_dialog_tiny_log_threshold")
    again.form.unit_combo.setCurrentText("h")
    again.form.threshold_spin.setValue(2.0)
    again.accept()
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 2, timeout=60_000)
    qtbot.waitUntil(lambda: window.data_panel.dataset_id == window.browser.dataset_ids()[1], timeout=30_000)
    assert window.data_panel.warning.isVisible() and "too small" in window.data_panel.warning.text()
    save_screenshot(window, "import_tiny_dataset")
    wait_idle(qtbot, window)


def test_a_refused_import_reopens_the_dialog_with_the_field_and_keeps_the_raw_log(window, qtbot) -> None:
    taobao = shared_log("taobao_userbehavior_head/UserBehavior_head.csv")
    window.import_flow.import_paths([taobao])
    dialog = dialog_of(qtbot, window)
    assert dialog.preset_combo.currentData() == "taobao"
    # its first rows are all "pv": every event type of the whole log is offered once it is read
    qtbot.waitUntil(lambda: [check.text() for check in dialog.form.event_type_checks] == ["buy", "cart", "fav", "pv"],
                    timeout=60_000)
    dialog.skip_invalid.setChecked(True)  # the file ends with a truncated row
    dialog.form.min_item_support.setValue(100)  # the most frequent item of the slice has 31 events
    dialog.accept()
    qtbot.waitUntil(lambda: window.import_flow.current_dialog is not None and
                    window.import_flow.current_dialog is not dialog, timeout=90_000)
    again = window.import_flow.current_dialog
    assert "the item support filter (>= 100 events) removed every event" in again.problem.text()
    assert "Change “Min item support” and import again." in again.problem.text()
    assert "--" not in again.problem.text()  # the dialog's words, not the command line's
    assert again.form.min_item_support.property("invalid") and again.skip_invalid.isChecked()
    save_screenshot(again, "import_dialog_refused_filter")
    wait_for_overview(qtbot, window, lambda overview: len(overview.unprepared_logs) == 1)
    assert "no dataset yet" in window.browser.topLevelItem(1).text(0)
    again.form.min_item_support.setValue(1)
    again.form.min_session_length.setValue(2)
    again.form.min_user_sessions.setValue(2)
    assert again.problem.text() == ""
    again.accept()  # the stored log is prepared: the file is not read again
    qtbot.waitUntil(lambda: len(window.browser.dataset_ids()) == 2, timeout=60_000)
    with opened(window) as workspace:
        assert len(list_logs(workspace)) == 2 and list_logs(workspace, unprepared_only=True) == []
    wait_idle(qtbot, window)


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


def test_an_unreadable_row_reopens_the_dialog_naming_skip_invalid_rows(window, qtbot, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("user_id,item_id,timestamp\n" + "".join(f"{u},{u % 7},1500000{u:03d}\n" for u in range(40))
                    + "5,3,yesterday\n")
    before = stored_counts(window)
    window.import_flow.import_paths([path])
    first = dialog_of(qtbot, window)
    first.accept()
    qtbot.waitUntil(lambda: window.import_flow.current_dialog not in (None, first), timeout=60_000)
    again = window.import_flow.current_dialog
    assert "yesterday" in again.problem.text() and "line 42" in again.problem.text()
    assert "Change “Skip invalid rows” and import again." in again.problem.text()
    assert again.skip_invalid.property("invalid")
    again.reject()
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


def test_an_item_names_file_dropped_onto_a_dataset_attaches_the_titles(window, qtbot, tmp_path: Path) -> None:
    dataset_id = window.browser.dataset_ids()[0]
    with opened(window) as workspace:
        from engine.storage.catalog import load_prepared

        items = [str(item) for item in load_prepared(workspace, dataset_id).item_ids[:3]]
    names = tmp_path / "u.item"
    names.write_bytes("".join(f"{item}|Film number {item} (1995)|01-Jan-1995||http://x|0|1\n" for item in items)
                      .encode("latin-1"))
    browser = window.browser
    row = browser.visualItemRect(browser.topLevelItem(0)).center()
    assert drag_and_drop(browser, [names], row)
    qtbot.waitUntil(lambda: "Named 3" in window.statusBar().currentMessage(), timeout=30_000)
    with opened(window) as workspace:
        labels = item_labels(workspace, dataset_id, load_prepared(workspace, dataset_id).item_ids[:1])
    assert labels[0] == f"{items[0]} · Film number {items[0]} (1995)"
    assert not window.import_flow.busy()
    wait_idle(qtbot, window)
