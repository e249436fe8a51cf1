"""Messages that used to mislead: implausible times (one inf or 1e20 switched the unit of a whole
column), a named pipe or a symbolic link loop, the offset of undecodable bytes, numpy reprs,
mixed delimiters, and filter errors that did not name the file. Every refusal leaves the
workspace unchanged."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.data.preparation import PrepareSettings
from engine.data.raw_log import RawLog, read_raw_log
from engine.errors import EmptyResultError, InputError
from engine.storage.catalog import list_datasets, list_logs
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, LogNotPreparedError, import_log, preview_log
from tests.logs import write_csv
from tests.workspace_state import snapshot

LOOSE = PrepareSettings(min_item_support=1, min_session_length=2, min_user_sessions=2)
START = 1_500_000_000  # unix seconds


def _rows(scale: float = 1.0) -> list[tuple]:
    """Three users, three 3-event sessions each, times in seconds times ``scale``."""
    return [(f"u{user}", f"i{(user + event) % 4}", int((START + user * 10 + session * 100_000 + event * 60) * scale))
            for user in range(3) for session in range(3) for event in range(3)]


@pytest.fixture
def workspace(tmp_path: Path):
    """A workspace that already holds one dataset, so "unchanged" is a real check."""
    with Workspace(tmp_path / "ws.sqlite") as opened:
        import_log(opened, ImportRequest(write_csv(tmp_path / "good.csv", _rows()), settings=LOOSE))
        yield opened


def _refused(workspace: Workspace, path: Path, *fragments: str, **request) -> str:
    before = snapshot(Path(workspace.display_name))
    with pytest.raises(InputError) as info:
        import_log(workspace, ImportRequest(path, **({"settings": LOOSE} | request)))
    message = str(info.value)
    assert str(path) in message, message
    assert "--" not in message.replace(str(path), ""), message  # the shells name their own options
    for fragment in fragments:
        assert fragment in message, message
    assert snapshot(Path(workspace.display_name)) == before
    return message


def _raw(path: Path, skip: bool = False) -> tuple[RawLog, int]:
    preview = preview_log(path)
    assert preview.mapping is not None
    return read_raw_log(path, preview.file_format, preview.mapping, skip)


def _with_time(tmp_path: Path, value: str, line: int = 6) -> Path:
    """The good rows with the time on ``line`` (the header is line 1) replaced by ``value``."""
    rows = _rows()
    rows[line - 2] = (*rows[line - 2][:2], value)
    return write_csv(tmp_path / "times.csv", rows)


@pytest.mark.parametrize("value, shown", [("inf", "holds inf, not a finite time"),
                                          ("-inf", "holds -inf, not a finite time"),
                                          ("nan", "has no timestamp (empty, or a missing-value marker such as NA")])
def test_non_finite_times_are_refused_with_their_line(workspace: Workspace, tmp_path: Path, value: str,
                                                      shown: str) -> None:
    _refused(workspace, _with_time(tmp_path, value), "line 6: column 'timestamp' ", shown, "skip invalid rows")


def test_one_huge_time_does_not_switch_the_unit_of_the_column(workspace: Workspace, tmp_path: Path) -> None:
    path = _with_time(tmp_path, "1e20", line=9)
    _refused(workspace, path, "line 9: column 'timestamp' holds 1e+20, which read as seconds (the unit of the "
             "column's median, 1.5e+09) is after the year 9999, outside 1970-01-01..2100-01-01 (1 such row); "
             "fix those rows or skip invalid rows")
    raw, skipped = _raw(path, skip=True)
    assert skipped == 1 and raw.n_events == len(_rows()) - 1
    assert raw.time.min() >= START and raw.time.max() < START + 300_000  # still seconds


def test_skipped_implausible_times_are_counted_like_other_invalid_rows(tmp_path: Path) -> None:
    rows = _rows()
    rows[3] = (*rows[3][:2], "inf")
    rows[5] = (*rows[5][:2], "-5")
    rows[7] = (*rows[7][:2], "")
    path = write_csv(tmp_path / "bad_times.csv", rows)
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(path, settings=LOOSE, skip_invalid_rows=True))
    assert outcome.skipped_rows == 3 and outcome.statistics["events"] <= len(rows) - 3


def test_negative_times_are_refused_and_zero_is_kept(workspace: Workspace, tmp_path: Path) -> None:
    _refused(workspace, _with_time(tmp_path, "-5"), "line 6: column 'timestamp' holds -5, which read as seconds",
             "is 1969-12-31T23:59:55Z, outside 1970-01-01..2100-01-01")
    path = write_csv(tmp_path / "epoch.csv", [("u", "a", 0), ("u", "b", 60), ("v", "a", 120)])
    assert _raw(path)[0].time.tolist() == [0.0, 60.0, 120.0]


@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_millisecond_and_microsecond_logs_are_read_as_seconds(tmp_path: Path, scale: float) -> None:
    raw, skipped = _raw(write_csv(tmp_path / "scaled.csv", _rows(scale)))
    expected = np.sort([row[2] for row in _rows()])
    assert skipped == 0 and np.allclose(np.sort(raw.time), expected)


def test_iso_times_outside_the_range_are_refused(workspace: Workspace, tmp_path: Path) -> None:
    rows = [(user, item, f"2017-11-25T10:{minute:02d}:00Z") for user, item, minute in
            zip(["a", "a", "b", "b"], ["x", "y", "x", "y"], range(4), strict=True)]
    rows[2] = ("b", "x", "2250-01-01T00:00:00Z")
    _refused(workspace, write_csv(tmp_path / "iso.csv", rows), "line 4: column 'timestamp' holds "
             "2250-01-01T00:00:00Z, outside 1970-01-01..2100-01-01")


@pytest.mark.timeout(30)
def test_a_named_pipe_is_not_opened(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    _refused(workspace, path, "is not a regular file (a named pipe, socket or device); save the log to a file first")


def test_symbolic_link_loop_and_broken_link(workspace: Workspace, tmp_path: Path) -> None:
    loop = tmp_path / "loop.csv"
    loop.symlink_to(tmp_path / "other.csv")
    (tmp_path / "other.csv").symlink_to(loop)
    _refused(workspace, loop, "is a symbolic link loop")
    broken = tmp_path / "broken.csv"
    broken.symlink_to(tmp_path / "gone.csv")
    _refused(workspace, broken, f"is a broken symbolic link: it points to {tmp_path / 'gone.csv'}, which does not "
             "exist")


def test_undecodable_bytes_are_located_in_the_file(workspace: Workspace, tmp_path: Path) -> None:
    good = ("user_id,item_id,timestamp\n" + "".join(f"u{k % 7},i{k % 13},{START + k}\n" for k in range(20_000)))
    data = good.encode() + "u1,café,1500000000\n".encode("latin-1") + b"u2,i2,1500000001\n"
    path = tmp_path / "latin1.csv"
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    assert offset > 300_000
    _refused(workspace, path, f"line 20002: undecodable bytes at byte {offset:,} of the data",
             "save the file as UTF-8")


def test_values_are_shown_plain_not_as_numpy_reprs(workspace: Workspace, tmp_path: Path) -> None:
    rows = [(f"u{k % 2}", k % 3, START + 60 * k) for k in range(10)]
    rows[4] = ("u0", "12.5", START + 240)
    message = _refused(workspace, write_csv(tmp_path / "fraction.csv", rows), "line 6: column 'item_id' holds 12.5, "
                       "not an id")
    assert "np." not in message


def test_a_comma_header_above_tab_rows_is_a_mixed_delimiter(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("user_id,item_id,timestamp\n" + "".join(f"{u}\t{i}\t{t}\n" for u, i, t in _rows()))
    _refused(workspace, path, "line 1: the header splits into 3 columns with comma (,) but line 2 with tab: the "
             "file mixes delimiters")


def test_rows_mixing_semicolons_and_commas_are_a_mixed_delimiter(workspace: Workspace, tmp_path: Path) -> None:
    lines = [",".join(map(str, row)) for row in _rows()]
    lines[4] = lines[4].replace(",", ";")
    path = tmp_path / "mixed.csv"
    path.write_text("user_id,item_id,timestamp\n" + "\n".join(lines) + "\n")
    _refused(workspace, path, "line 6: the row splits into its columns with semicolon (;), not with comma (,) like "
             "the other lines (3 columns expected: user_id, item_id, timestamp)")


def test_a_mixed_row_beyond_the_sniffed_head_is_named_too(workspace: Workspace, tmp_path: Path) -> None:
    rows = [(f"u{k % 5}", f"i{k % 11}", START + 60 * k) for k in range(6_000)]  # ~130 KB, past the 64 KB head
    path = write_csv(tmp_path / "late.csv", rows)
    with path.open("a") as out:
        out.write("u1;i1;1500000000\n")
    _refused(workspace, path, "line 6002: column 'item_id' is empty because the row does not split into the "
             "header's columns with comma (,): 'u1;i1;1500000000' holds semicolon (;)")


def test_filter_errors_name_the_file_and_keep_the_raw_log(workspace: Workspace, tmp_path: Path) -> None:
    """Preparing under settings that leave nothing is refused naming the file and the setting; the
    raw log is stored (to prepare again with other settings without reading the file again) and
    no dataset is added."""
    path = write_csv(tmp_path / "small.csv", _rows()[:-1])  # not the stored log: read and prepared anew
    with pytest.raises(LogNotPreparedError) as info:
        import_log(workspace, ImportRequest(path, settings=PrepareSettings(min_item_support=500)))
    assert str(info.value).startswith(f"{path}: the item support filter (>= 500 events) removed every event")
    assert info.value.setting == "min_item_support" and info.value.log_id is not None
    assert isinstance(info.value, EmptyResultError)
    assert [stored.id for stored in list_logs(workspace, unprepared_only=True)] == [info.value.log_id]
    assert len(list_datasets(workspace)) == 1
    again = import_log(workspace, ImportRequest(path, settings=LOOSE))
    assert again.reused_log and again.log_id == info.value.log_id
    assert list_logs(workspace, unprepared_only=True) == []


