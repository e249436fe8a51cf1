"""Bounded reading: an import within a memory budget (refused up front from the estimated size,
or while streaming when the estimate is fooled), and messages of bounded size whatever the
values or headers of the file."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import engine.data.raw_log as raw_log_module
from engine.data.column_mapping import ColumnMapping
from engine.data.preparation import PrepareSettings
from engine.data.raw_log import build_raw_log, read_raw_log
from engine.data.reading import check_memory, estimate_size, gzip_data_bytes, read_table
from engine.errors import InputError
from engine.memory import (
    BUDGET_VARIABLE,
    IMPORT_BASE_BYTES,
    IMPORT_BYTES_PER_EVENT,
    affordable_events,
    import_bytes,
    memory_budget,
    parse_size,
    physical_memory,
)
from engine.storage.workspace import Workspace
from engine.text import elide, name_list
from engine.workbench.importing import ImportRequest, import_log, preview_log
from tests.conftest import PROJECT_ROOT
from tests.workspace_state import snapshot

LOOSE = PrepareSettings(min_item_support=1, min_session_length=2, min_user_sessions=2)
HEADER = b"user_id,item_id,timestamp\n"
# ~12 KB of varied, valid rows: repeated, it compresses about 100 times (deflate's window is 32 KB).
BLOCK = "".join(f"{k % 97},{k % 389},{1_500_000_000 + 37 * k}\n" for k in range(700)).encode()

_CHILD = """
import json, sys, time
from pathlib import Path
started = time.monotonic()
from engine.workbench.importing import ImportRequest, import_log
from engine.errors import InputError
from engine.storage.workspace import Workspace
message = None
with Workspace(Path(sys.argv[2])) as workspace:
    try:
        import_log(workspace, ImportRequest(Path(sys.argv[1])))
    except InputError as exc:
        message = str(exc)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"message": message, "seconds": time.monotonic() - started, "peak": peak}))
"""


def _write_bomb(out: gzip.GzipFile, data_bytes: int) -> None:
    """``data_bytes`` of valid rows under a header, written block by block (never held whole)."""
    out.write(HEADER)
    for _ in range(data_bytes // len(BLOCK)):
        out.write(BLOCK)


def _import_in_child(path: Path, workspace_file: Path, budget: str) -> dict:
    """Import ``path`` in a fresh interpreter under ``budget``; its message, wall time and peak RSS."""
    environment = {**os.environ, BUDGET_VARIABLE: budget}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(workspace_file)], cwd=PROJECT_ROOT,
                          env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")


@linux_only
def test_a_compressed_bomb_is_refused_up_front_within_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb") as out:
        _write_bomb(out, 256 * 2**20)
    assert path.stat().st_size < 5 * 2**20
    workspace_file = tmp_path / "ws.sqlite"
    Workspace(workspace_file).close()
    before = snapshot(workspace_file)
    result = _import_in_child(path, workspace_file, "300M")
    message = result["message"]
    assert message is not None and message.startswith(f"{path}: about ")
    assert "events (0.25 GB decompressed) would need about" in message
    assert "this machine's budget is 0.29 GB (set HRNN_MEMORY_BUDGET to change it)" in message
    assert "split the log or import it on a larger machine" in message
    assert result["seconds"] < 20 and result["peak"] < 600 * 2**20, result
    assert snapshot(workspace_file) == before


@linux_only
def test_a_concatenated_gzip_that_fools_the_estimate_is_refused_while_streaming(tmp_path: Path) -> None:
    """The trailer of a concatenated gzip tells the size of its last member only (here a few
    bytes): reading stops at the budget's number of events."""
    path = tmp_path / "concatenated.csv.gz"
    with path.open("wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as out:
            _write_bomb(out, 128 * 2**20)
        raw.write(gzip.compress(b"1,2,1500000000\n"))
    workspace_file = tmp_path / "ws.sqlite"
    Workspace(workspace_file).close()
    before = snapshot(workspace_file)
    result = _import_in_child(path, workspace_file, "600M")
    message = result["message"]
    assert message is not None and message.startswith(f"{path}, line ")
    limit = affordable_events(600 * 2**20)
    assert f": the log holds more than {limit:,} events, which would need more than " in message
    assert "(set HRNN_MEMORY_BUDGET to change it); split the log or import it on a larger machine" in message
    assert result["seconds"] < 30 and result["peak"] < 600 * 2**20, result
    assert snapshot(workspace_file) == before


def test_estimates_from_gzip_trailer_zip_directory_and_file_size(tmp_path: Path) -> None:
    text = HEADER + BLOCK * 20  # 14,000 rows
    (tmp_path / "a.csv").write_bytes(text)
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(text))
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", text)
    for name in ("a.csv", "a.csv.gz", "a.zip"):
        estimate = estimate_size(tmp_path / name, preview_log(tmp_path / name).file_format)
        assert estimate.data_bytes == len(text), name
        assert 13_000 < estimate.events < 15_000, (name, estimate)


def test_gzip_size_modulo_4_gib_is_corrected_by_the_compressed_size() -> None:
    assert gzip_data_bytes(12_345, 3_000) == 12_345
    # a 5 GiB gzip whose trailer says 100 bytes holds at least 5 GiB: 2 * 2^32 + 100
    assert gzip_data_bytes(100, 5 * 2**30) == 2 * 2**32 + 100


def test_budget_from_the_environment_or_physical_memory(monkeypatch) -> None:
    assert parse_size("2G") == 2 * 2**30 and parse_size("500M") == 500 * 2**20
    assert parse_size("1.5GiB") == 3 * 2**29 and parse_size("123456") == 123_456 and parse_size("64kb") == 65_536
    with pytest.raises(InputError, match="HRNN_MEMORY_BUDGET='lots' is not a size"):
        parse_size("lots")
    monkeypatch.setenv(BUDGET_VARIABLE, "300M")
    assert memory_budget() == 300 * 2**20
    assert affordable_events(600 * 2**20) == (600 * 2**20 - IMPORT_BASE_BYTES) // IMPORT_BYTES_PER_EVENT > 0
    assert affordable_events(300 * 2**20) == 0  # below the base: nothing fits
    monkeypatch.delenv(BUDGET_VARIABLE)
    total = physical_memory()
    assert total is None or memory_budget() == int(total * 0.6)


# Peaks of ``python main.py import`` measured by bench/bench_read_memory.py (2-core CPU; BENCHMARKS.md):
# (events, MiB). The base alone, every library the command line loads, is 388 MiB.
MEASURED_PEAKS = ((48_108, 429), (197_328, 482), (998_942, 622), (2_001_186, 773), (5_016_868, 1_339))


def test_the_estimate_covers_every_measured_peak_of_an_import() -> None:
    for events, peak_mib in MEASURED_PEAKS:
        assert import_bytes(events) >= peak_mib * 2**20, (events, import_bytes(events) / 2**20)
        assert import_bytes(events) <= 1.2 * peak_mib * 2**20, (events, import_bytes(events) / 2**20)


def test_a_197k_event_log_is_refused_up_front_below_its_measured_peak(tmp_path: Path, monkeypatch) -> None:
    """The log the README's old formula put at about 300 MiB peaked at 482 MiB: a budget of 450 MiB
    refuses it before reading."""
    path = tmp_path / "log.csv"
    path.write_bytes(HEADER + BLOCK * 282)  # 197,400 events
    monkeypatch.setenv(BUDGET_VARIABLE, "450M")
    with pytest.raises(InputError) as info:
        check_memory(path, preview_log(path).file_format)
    assert str(info.value).startswith(f"{path}: about 197,")
    assert "would need about 0.49 GB of memory to import; this machine's budget is 0.44 GB" in str(info.value)


def test_elide_and_name_list() -> None:
    assert elide("yesterday") == "'yesterday'" and elide(12.5) == "12.5" and elide(3) == "3"
    assert elide("u1\tb") == "'u1\\tb'"
    long = elide("a" * 10_000_000)
    assert long.endswith("' (10,000,000 characters)") and "…" in long and len(long) < 120
    names = name_list(f"c{index}" for index in range(20_000))
    assert names.startswith("c0, c1, ") and names.endswith("c19, … and 19,980 more")
    assert name_list(["a", "b"]) == "a, b"


def _refused(tmp_path: Path, path: Path, **request) -> str:
    """The message of an import of ``path`` refused into a workspace left unchanged."""
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        before = snapshot(tmp_path / "ws.sqlite")
        with pytest.raises(InputError) as info:
            import_log(workspace, ImportRequest(path, **({"settings": LOOSE} | request)))
        assert snapshot(tmp_path / "ws.sqlite") == before
    return str(info.value)


@pytest.mark.parametrize("column", ["user_id", "timestamp"])
@pytest.mark.parametrize("size, shown", [(500_000, "(500,000 characters)"),
                                         (10_000_000, "a line longer than 1 MiB (more than 1,048,576 bytes")])
def test_a_huge_field_gives_a_short_message_with_file_and_line(tmp_path: Path, column: str, size: int,
                                                               shown: str) -> None:
    """A field of 500,000 characters is named cut short; one of 10 MB makes its line too long to read."""
    rows = [[str(k % 3), str(k % 5), str(1_500_000_000 + 60 * k)] for k in range(30)]
    rows[6][["user_id", "item_id", "timestamp"].index(column)] = "x" * size
    path = tmp_path / "huge_field.csv"
    path.write_bytes(HEADER + "\n".join(",".join(row) for row in rows).encode())
    message = _refused(tmp_path, path)
    assert len(message.encode()) < 1024, len(message)
    assert message.startswith(f"{path}, line 8: ") and shown in message


@pytest.mark.parametrize("mapping", [None, ColumnMapping("user_id", "item_id", "timestamp")])
def test_a_header_of_20000_columns_gives_a_short_message(tmp_path: Path, mapping: ColumnMapping | None) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"column_{index:05d}" for index in range(20_000))
    path.write_text(header + "\n" + "\n".join(",".join(["1"] * 20_000) for _ in range(3)) + "\n")
    assert len(header) > 140_000
    message = _refused(tmp_path, path, mapping=mapping)
    assert len(message.encode()) < 1024, len(message)
    assert str(path) in message and "column_00000" in message and "… and 19,980 more" in message


def _chunked_log(tmp_path: Path, lines: list[str], header: str = "user_id,item_id,timestamp,event_type") -> Path:
    path = tmp_path / "chunked.csv"
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return path


def test_reading_in_chunks_gives_the_log_read_at_once(tmp_path: Path, monkeypatch) -> None:
    """Chunks of 7 rows: ids that are numbers in one chunk and text in another, event types with a
    gap (floats in that chunk), a row skipped: the same codes, ids and times as one whole frame."""
    lines = [f"{k % 9 if k < 30 else f'user{k % 4}'},{k % 11},{1_500_000_000 + 600 * k},{k % 3}" for k in range(60)]
    lines[12] = "3,4,1500007200,"  # no event type: skipped
    path = _chunked_log(tmp_path, lines)
    preview = preview_log(path)
    assert preview.mapping is not None
    whole, skipped_whole = build_raw_log(path, read_table(path, preview.file_format), preview.mapping,
                                         skip_invalid_rows=True)
    monkeypatch.setattr(raw_log_module, "CHUNK_ROWS", 7)
    chunked, skipped = read_raw_log(path, preview.file_format, preview.mapping, skip_invalid_rows=True)
    assert skipped == skipped_whole == 1 and chunked.n_events == 59
    for name in ("user", "item", "time", "event_type"):
        assert np.array_equal(getattr(chunked, name), getattr(whole, name)), name
    assert list(chunked.user_ids) == list(whole.user_ids) and "user3" in list(chunked.user_ids)
    assert list(chunked.item_ids) == [str(k) for k in range(11)]  # numbers sort as numbers
    assert chunked.event_types == whole.event_types == ["0", "1", "2"]  # not "1.0" from the chunk with a gap


def test_a_text_id_in_a_late_chunk_among_numbers_names_its_line(tmp_path: Path, monkeypatch) -> None:
    lines = [f"{k % 9},{k % 11},{1_500_000_000 + 600 * k},view" for k in range(60)]
    lines[3] = "1,2,,view"  # skipped (no time): positions still count it
    lines[40] = "bob,2,1500024000,view"
    path = _chunked_log(tmp_path, lines)
    preview = preview_log(path)
    monkeypatch.setattr(raw_log_module, "CHUNK_ROWS", 7)
    with pytest.raises(InputError, match=r"line 42: column 'user_id' mixes numbers and text \('bob' among numeric"):
        read_raw_log(path, preview.file_format, preview.mapping, skip_invalid_rows=True)
