"""Values that are no ids or times: JSON objects and arrays in mapped fields, JSON nested deeper
than Python reads, Parquet lists and structs as ids and booleans as times. Each is refused in
one line naming the file, the line (or column) and what is wrong: exit code 2, nothing stored."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.cli.main import main
from engine.data.preparation import PrepareSettings
from engine.errors import InputError
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log
from tests.workspace_state import snapshot

LOOSE_OPTIONS = ["--min-item-support", "1", "--min-session-length", "2", "--min-user-sessions", "2"]


def _record(k: int) -> dict:
    return {"user_id": f"u{k % 3}", "item_id": f"i{k % 4}", "ts": 1_500_000_000 + 60 * k}


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli_refusal(tmp_path: Path, path: Path, capsys) -> str:
    """The one-line error of ``import`` (exit code 2) into a workspace left unchanged."""
    workspace_file = tmp_path / "ws.sqlite"
    Workspace(workspace_file).close()
    before = snapshot(workspace_file)
    assert main(["import", str(path), "--workspace", str(workspace_file), *LOOSE_OPTIONS]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {path}"), error
    assert snapshot(workspace_file) == before
    return error


@pytest.mark.parametrize("field, value, shown", [
    ("user_id", {"id": 1}, "field 'user_id' holds a JSON object ({\"id\": 1}), not an id"),
    ("user_id", [1, 2], "field 'user_id' holds a JSON array ([1, 2]), not an id"),
    ("item_id", [3], "field 'item_id' holds a JSON array ([3]), not an id"),
    ("ts", {"seconds": 1_500_000_000}, "field 'ts' holds a JSON object ({\"seconds\": 1500000000}), not a time"),
])
def test_json_objects_and_arrays_in_mapped_fields_are_refused_with_their_line(tmp_path: Path, capsys, field: str,
                                                                               value: object, shown: str) -> None:
    records = [_record(k) for k in range(30)]
    for record in records[3:]:
        record[field] = value
    path = _jsonl(tmp_path / "nested.jsonl", [json.dumps(record) for record in records])
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}, line 4: {shown}; map a field of numbers or text")


def test_arrays_in_every_mapped_field_are_refused(tmp_path: Path, capsys) -> None:
    lines = [json.dumps({"user_id": [k % 3], "item_id": [k % 4], "ts": 1_500_000_000 + 60 * k}) for k in range(30)]
    path = _jsonl(tmp_path / "arrays.jsonl", lines)
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}, line 1: field 'user_id' holds a JSON array ([0]), not an id; map a field of numbers or text")


@pytest.mark.parametrize("deep", ["[" * 100_000 + "]" * 100_000,
                                  '{"user_id": "u1", "item_id": ' + "[" * 100_000 + "]" * 100_000 + ', "ts": 1}'])
def test_json_nested_100000_deep_is_refused_with_its_line(tmp_path: Path, capsys, deep: str) -> None:
    lines = [json.dumps(_record(k)) for k in range(30)]
    lines[2] = deep
    path = _jsonl(tmp_path / "deep.jsonl", lines)
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}, line 3: JSON nested too deeply to read (brackets inside brackets, thousands deep); each "
        "line must be one JSON object of fields")


def test_a_first_line_of_brackets_is_read_as_json(tmp_path: Path, capsys) -> None:
    path = _jsonl(tmp_path / "deep.jsonl", ["[" * 100_000 + "]" * 100_000])
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}, line 1: JSON nested too deeply to read (brackets inside brackets, thousands deep); each "
        "line must be one JSON object of fields")


def test_a_line_that_is_an_array_is_refused_with_its_line(tmp_path: Path, capsys) -> None:
    lines = [json.dumps(_record(k)) for k in range(30)]
    lines[5] = json.dumps(["u1", "i2", 1_500_000_000])
    path = _jsonl(tmp_path / "array_line.jsonl", lines)
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}, line 6: a JSON array, not an object; each line must be one JSON object of fields")


def test_sessions_holding_event_objects_are_still_one_row_per_event(tmp_path: Path) -> None:
    sessions = [{"session": s, "events": [{"aid": (s + e) % 5, "ts": 1_500_000_000_000 + (e // 2) * 7_200_000
                                           + 60_000 * e + s * 10**8, "type": "clicks"} for e in range(4)]}
                for s in range(6)]
    path = _jsonl(tmp_path / "otto.jsonl", [json.dumps(session) for session in sessions])
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(path, settings=PrepareSettings(
            min_item_support=1, min_session_length=2, min_user_sessions=2)))
    assert outcome.statistics["events"] == 24


def _parquet(path: Path, **columns: pa.Array) -> Path:
    n = 30
    table = {"user_id": pa.array([f"u{k % 3}" for k in range(n)]), "item_id": pa.array([f"i{k % 4}" for k in range(n)]),
             "timestamp": pa.array([1_500_000_000 + 60 * k for k in range(n)])}
    pq.write_table(pa.table(table | columns), path)
    return path


def test_a_parquet_boolean_time_column_is_refused_naming_it(tmp_path: Path, capsys) -> None:
    path = _parquet(tmp_path / "bool_time.parquet", timestamp=pa.array([k % 2 == 0 for k in range(30)]))
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}: column 'timestamp' holds booleans (type bool), not times; map a column of unix times or "
        "ISO-8601 dates")


def test_a_csv_boolean_time_column_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bool_time.csv"
    path.write_text("user_id,item_id,timestamp\n" + "".join(f"u{k % 3},i{k % 4},{k % 2 == 0}\n" for k in range(30)))
    with Workspace(tmp_path / "ws.sqlite") as workspace, pytest.raises(InputError, match="column 'timestamp' holds "
                                                                                         "booleans"):
        import_log(workspace, ImportRequest(path))


@pytest.mark.parametrize("column, values, type_name", [
    ("item_id", pa.array([[k % 4, 1] for k in range(30)]), "list<element: int64>"),
    ("user_id", pa.array([{"id": k % 3, "site": "a"} for k in range(30)]), "struct<id: int64, site: string>"),
    ("item_id", pa.array([{"a": k % 4} for k in range(30)], pa.map_(pa.string(), pa.int64())),
     "map<string, int64 ('item_id')>"),
])
def test_parquet_list_struct_and_map_id_columns_are_refused_naming_their_type(tmp_path: Path, capsys, column: str,
                                                                              values: pa.Array, type_name: str) -> None:
    path = _parquet(tmp_path / "nested.parquet", **{column: values})
    assert _cli_refusal(tmp_path, path, capsys) == (
        f"error: {path}: column '{column}' is of type {type_name}, not an id or a time (a number or text); map "
        "another column")
