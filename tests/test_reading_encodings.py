"""Text with a byte-order mark: UTF-16 (little or big endian) and UTF-8 with a BOM are decoded and
read like UTF-8, plain or compressed; UTF-16 without a BOM is refused, saying what to do."""
from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.data.preparation import PrepareSettings
from engine.errors import InputError
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log, preview_log

LOOSE = PrepareSettings(min_item_support=1, min_session_length=2, min_user_sessions=2)
TEXT = "user_id,item_id,timestamp\n" + "".join(
    f"ü{user},Ítem {(user + event) % 4},{1_500_000_000 + user * 10 + session * 100_000 + event * 60}\n"
    for user in range(3) for session in range(3) for event in range(3))
JSONL = "".join(json.dumps({"user": f"ü{k % 3}", "item": f"i{k % 4}", "ts": 1_500_000_000 + (k // 6) * 100_000
                            + 60 * k}) + "\n" for k in range(36))


def _ids(path: Path) -> tuple[list[str], list[str], int]:
    with Workspace(path.parent / f"{path.name}.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(path, settings=LOOSE))
        from engine.storage import catalog

        raw = catalog.load_raw_log(workspace, outcome.log_id)
    return list(raw.user_ids), list(raw.item_ids), int(np.sum(raw.time))


@pytest.mark.parametrize("encoding, shown", [("utf-16", "utf-16-le"), ("utf-16-be", "utf-16-be"),
                                             ("utf-8-sig", "utf-8-sig")])
def test_text_with_a_byte_order_mark_reads_like_utf8(tmp_path: Path, encoding: str, shown: str) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text(TEXT, encoding="utf-8")
    data = TEXT.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    marked = tmp_path / "marked.csv"
    marked.write_bytes(data)
    (tmp_path / "marked.csv.gz").write_bytes(gzip.compress(data))
    with zipfile.ZipFile(tmp_path / "marked.zip", "w") as archive:
        archive.writestr("marked.csv", data)
    expected = _ids(plain)
    assert expected[0] == ["ü0", "ü1", "ü2"]
    for name in ("marked.csv", "marked.csv.gz", "marked.zip"):
        preview = preview_log(tmp_path / name)
        assert preview.file_format.encoding == shown, name
        assert list(preview.rows.columns) == ["user_id", "item_id", "timestamp"], name
        assert _ids(tmp_path / name) == expected, name


def test_utf16_json_lines_read_like_utf8(tmp_path: Path) -> None:
    plain, marked = tmp_path / "plain.jsonl", tmp_path / "marked.jsonl"
    plain.write_text(JSONL, encoding="utf-8")
    marked.write_bytes(JSONL.encode("utf-16"))
    assert _ids(marked) == _ids(plain)


def test_utf16_without_a_byte_order_mark_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "no_bom.csv"
    path.write_bytes(TEXT.encode("utf-16-le"))
    with pytest.raises(InputError) as info:
        preview_log(path)
    assert str(info.value) == (f"{path} is UTF-16 text without a byte-order mark; save it as UTF-8 (or as UTF-16 "
                               "with a byte-order mark)")


def test_utf16_cut_inside_a_character_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(TEXT.encode("utf-16")[:-1])
    with Workspace(tmp_path / "ws.sqlite") as workspace, pytest.raises(InputError) as info:
        import_log(workspace, ImportRequest(path, settings=LOOSE))
    assert str(info.value).startswith(f"{path}: the UTF-16 text ends inside a character (a truncated file?)")
