"""Zip archives of several files: members that share one format and header are imported whole
(in member-name order, the names recorded and shown); others are refused, naming the members and
what differs. Folders, macOS metadata and empty members are left out; nothing is ever cut silently."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from engine.cli.main import main
from engine.data.preparation import PrepareSettings
from engine.errors import InputError
from engine.storage import catalog
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log, preview_log
from tests.workspace_state import snapshot

LOOSE = PrepareSettings(min_item_support=1, min_session_length=2, min_user_sessions=2)
LOOSE_OPTIONS = ["--min-item-support", "1", "--min-session-length", "2", "--min-user-sessions", "2"]
HEADER = "user_id,item_id,timestamp"


def _month(first_user: int, start: int, header: str = HEADER, delimiter: str = ",") -> str:
    """Three users with three 3-event sessions each, as delimited text under ``header``."""
    rows = [(f"u{user}", f"i{(user + event) % 4}", start + user * 10 + session * 100_000 + event * 60)
            for user in range(first_user, first_user + 3) for session in range(3) for event in range(3)]
    return "\n".join([header] + [delimiter.join(map(str, row)) for row in rows]) + "\n"


def _zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name.endswith("/"):
                archive.mkdir(name)
            else:
                archive.writestr(name, data)
    return path


def test_months_sharing_a_header_are_imported_whole_with_their_names(tmp_path: Path) -> None:
    path = _zip(tmp_path / "months.zip", {
        "logs/": "", "logs/jan.csv": _month(0, 1_500_000_000), "logs/feb.csv": _month(3, 1_502_000_000),
        "logs/empty.csv": "", "__MACOSX/logs/._jan.csv": b"\x00\x05\x16\x07 Mac OS X metadata",
        "logs/.DS_Store": b"\x00\x00\x00\x01Bud1"})
    preview = preview_log(path)
    assert preview.file_format.members == ("logs/feb.csv", "logs/jan.csv")
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(path, settings=LOOSE))
        assert outcome.statistics["events"] == 54 and outcome.statistics["users"] == 6
        assert outcome.members == ("logs/feb.csv", "logs/jan.csv")
        with workspace.session() as session:
            stored = catalog.log_row(session, outcome.log_id)
            assert stored.n_events == 54 and stored.file_format["members"] == ["logs/feb.csv", "logs/jan.csv"]
            assert stored.source_path.endswith("months.zip (2 files: logs/feb.csv, logs/jan.csv)")


def test_the_command_line_names_the_members_on_import_and_in_the_datasets_list(tmp_path: Path, capsys) -> None:
    path = _zip(tmp_path / "months.zip", {"jan.csv": _month(0, 1_500_000_000), "feb.csv": _month(3, 1_502_000_000)})
    workspace = str(tmp_path / "ws.sqlite")
    assert main(["import", str(path), "--workspace", workspace, *LOOSE_OPTIONS]) == 0
    out = capsys.readouterr().out
    assert f"imported {path} (2 files, read one after the other: feb.csv, jan.csv) as dataset" in out
    assert main(["datasets", "--workspace", workspace]) == 0
    assert "months.zip (2 files: feb.csv, jan.csv)" in capsys.readouterr().out


def test_jsonl_and_parquet_members_are_read_one_after_the_other(tmp_path: Path) -> None:
    frames = [pd.read_csv(io.StringIO(_month(first, start))) for first, start in ((0, 1_500_000_000),
                                                                                 (3, 1_502_000_000))]
    jsonl = {f"part{index}.jsonl": "".join(json.dumps(row) + "\n" for row in frame.to_dict("records"))
             for index, frame in enumerate(frames)}
    parquet = {}
    for index, frame in enumerate(frames):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        parquet[f"part{index}.parquet"] = buffer.getvalue()
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        for name, members in (("jsonl.zip", jsonl), ("parquet.zip", parquet)):
            outcome = import_log(workspace, ImportRequest(_zip(tmp_path / name, members), settings=LOOSE))
            assert outcome.statistics["events"] == 54 and len(outcome.members) == 2, name


JAN = "logs/jan.csv is delimited by comma (,) with the header user_id, item_id, timestamp"


@pytest.mark.parametrize("second, difference", [
    (_month(3, 1_502_000_000, header="user,item,time"),
     f"logs/feb.csv is delimited by comma (,) with the header user, item, time, {JAN}"),
    (_month(3, 1_502_000_000, header=HEADER.replace(",", "\t"), delimiter="\t"),
     f"logs/feb.csv is delimited by tab with the header user_id, item_id, timestamp, {JAN}"),
    ("".join(json.dumps({"user_id": "u9", "item_id": "i1", "timestamp": 1_502_000_000 + k}) + "\n" for k in range(3)),
     f"logs/feb.csv is JSON lines, {JAN}"),
    ("README\n\nThese are our logs: please do not share them.\n", "logs/feb.csv is not a log (cannot find the "
     "column delimiter"),
], ids=["header", "delimiter", "json", "readme"])
def test_members_that_differ_are_refused_naming_them_and_the_difference(tmp_path: Path, capsys, second: str,
                                                                          difference: str) -> None:
    path = _zip(tmp_path / "months.zip", {"logs/jan.csv": _month(0, 1_500_000_000), "logs/feb.csv": second})
    workspace_file = tmp_path / "ws.sqlite"
    Workspace(workspace_file).close()
    before = snapshot(workspace_file)
    with pytest.raises(InputError) as info:
        preview_log(path)
    message = str(info.value)
    assert message.startswith(f"{path}: its 2 files differ: {difference}"), message
    assert message.endswith("; extract the file to import, or save the files with one format and header"), message
    assert main(["import", str(path), "--workspace", str(workspace_file), *LOOSE_OPTIONS]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"
    assert snapshot(workspace_file) == before


def test_parquet_members_with_other_columns_are_refused(tmp_path: Path) -> None:
    frame = pd.read_csv(io.StringIO(_month(0, 1_500_000_000)))
    members = {}
    for name, part in (("a.parquet", frame), ("b.parquet", frame.rename(columns={"item_id": "product"}))):
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        members[name] = buffer.getvalue()
    path = _zip(tmp_path / "parts.zip", members)
    with Workspace(tmp_path / "ws.sqlite") as workspace, pytest.raises(InputError) as info:
        import_log(workspace, ImportRequest(path, settings=LOOSE))
    assert str(info.value).startswith(f"{path}: its 2 files differ: a.parquet is Parquet with the columns user_id, "
                                      "item_id, timestamp, b.parquet is Parquet with the columns user_id, product, "
                                      "timestamp; extract the file to import")


def test_a_bad_row_in_a_later_member_names_the_member_and_its_line(tmp_path: Path) -> None:
    second = _month(3, 1_502_000_000).splitlines()
    second[4] = "u4,i2,yesterday"
    path = _zip(tmp_path / "months.zip", {"jan.csv": _month(0, 1_500_000_000), "feb.csv": _month(6, 1_501_000_000),
                                          "mar.csv": "\n".join(second) + "\n"})
    with Workspace(tmp_path / "ws.sqlite") as workspace, pytest.raises(InputError) as info:
        import_log(workspace, ImportRequest(path, settings=LOOSE))
    assert str(info.value).startswith(f"{path}/mar.csv, line 5: cannot read 'yesterday' in column 'timestamp'")


def test_an_archive_of_only_empty_or_metadata_files_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "nothing.zip", {"logs/": "", "logs/empty.csv": "", "__MACOSX/._x.csv": b"\x00\x05"})
    with pytest.raises(InputError, match=r"nothing\.zip: the zip archive holds no log: only empty files "
                                         r"\(logs/empty\.csv\), folders or macOS metadata"):
        preview_log(path)


def test_the_desktop_preview_says_how_many_files_it_reads(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from app.import_dialog import describe_format

    path = _zip(tmp_path / "months.zip", {"jan.csv": _month(0, 1_500_000_000), "feb.csv": _month(3, 1_502_000_000)})
    assert describe_format(preview_log(path)) == "delimited, comma, header row, zip of 2 files (feb.csv, jan.csv)"
