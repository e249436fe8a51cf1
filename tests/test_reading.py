"""Reading logs in every supported format, detection of delimiters, headers, presets and time
units, and the real logs from ../shared/data."""
from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.data.column_mapping import FORMAT_PRESETS, ColumnMapping, detect_mapping
from engine.data.preparation import PrepareSettings, prepare_events
from engine.data.raw_log import build_raw_log
from engine.data.reading import read_table
from engine.data.statistics import table1_statistics
from engine.workbench.importing import preview_log
from tests.conftest import shared_log

ROWS = [("u1", "i1", 1_500_000_000), ("u1", "i2", 1_500_000_060), ("u2", "i1", 1_500_000_100)]


def _read(path: Path, preset: str | None = None):
    preview = preview_log(path, preset)
    frame = read_table(path, preview.file_format)
    raw, _ = build_raw_log(path, frame, preview.mapping, preview.file_format.has_header)
    return preview, raw


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "log.txt"
    path.write_text("\n".join([delimiter.join(["user_id", "item_id", "timestamp"])] +
                              [delimiter.join(map(str, row)) for row in ROWS]) + "\n")
    preview, raw = _read(path)
    assert preview.file_format.delimiter == delimiter and preview.file_format.has_header
    assert raw.n_events == 3 and list(raw.user_ids) == ["u1", "u2"] and list(raw.item_ids) == ["i1", "i2"]
    assert raw.time.tolist() == [1_500_000_000, 1_500_000_060, 1_500_000_100]


def test_gzip_zip_parquet_and_jsonl_give_the_same_log(tmp_path: Path) -> None:
    frame = pd.DataFrame(ROWS, columns=["user_id", "item_id", "timestamp"])
    csv_text = frame.to_csv(index=False)
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(csv_text.encode()))
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("inner/a.csv", csv_text)
    frame.to_parquet(tmp_path / "a.parquet")
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(dict(zip(frame.columns, map(str, r), strict=True)))
                                                for r in ROWS))
    logs = [_read(tmp_path / name)[1] for name in ("a.csv.gz", "a.zip", "a.parquet", "a.jsonl")]
    for raw in logs:
        assert raw.user.tolist() == [0, 0, 1] and raw.item.tolist() == [0, 1, 0]
        assert raw.time.tolist() == logs[0].time.tolist()
    assert _read(tmp_path / "a.csv.gz")[0].file_format.compression == "gzip"


def test_time_units_seconds_milliseconds_and_iso(tmp_path: Path) -> None:
    seconds = _read(_write(tmp_path / "s.csv", "u,i,1500000000\nu,j,1500000060\n", "user_id,item_id,timestamp"))[1]
    millis = _read(_write(tmp_path / "ms.csv", "u,i,1500000000000\nu,j,1500000060000\n", "user_id,item_id,ts"))[1]
    iso = _read(_write(tmp_path / "iso.csv", "u,i,2017-07-14T02:40:00Z\nu,j,2017-07-14T02:41:00+00:00\n",
                       "user_id,item_id,time"))[1]
    assert seconds.time.tolist() == millis.time.tolist() == iso.time.tolist() == [1_500_000_000.0, 1_500_000_060.0]


def _write(path: Path, body: str, header: str) -> Path:
    path.write_text(header + "\n" + body)
    return path


def test_headerless_movielens_dat_with_double_colon(tmp_path: Path) -> None:
    path = tmp_path / "ratings.dat"
    path.write_text("1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    preview, raw = _read(path)
    assert preview.preset is not None and preview.preset.name == "movielens-dat"
    assert raw.n_events == 3 and list(raw.item_ids) == ["661", "1193"]  # numeric ids sort as numbers


def test_taobao_is_recognised_by_its_structure(tmp_path: Path) -> None:
    path = tmp_path / "UserBehavior.csv"
    path.write_text("1,2268318,2520377,pv,1511544070\n1,2333346,2520771,cart,1511561733\n")
    preview, raw = _read(path)
    assert preview.preset.name == "taobao" and raw.event_types == ["cart", "pv"]


def test_lastfm_text_ids_are_not_taken_for_a_header(tmp_path: Path) -> None:
    path = tmp_path / "lastfm.tsv"
    path.write_text("user_000001\t2009-05-04T23:08:57Z\tid1\tDeep Dish\t\tFuck Me Im Famous\n"
                    "user_000001\t2009-05-04T13:54:10Z\tid2\tUmmagumma\t\tSpiral\n")
    preview, raw = _read(path)
    assert not preview.file_format.has_header and preview.preset.name == "lastfm-1k"
    assert raw.n_events == 2 and "Deep Dish – Fuck Me Im Famous" in list(raw.item_ids)


def test_mapping_detection_by_column_names() -> None:
    assert detect_mapping(["SessionId", "ItemId", "Time"]) == ColumnMapping(None, "ItemId", "Time", "SessionId")
    assert detect_mapping(["visitorid", "itemid", "timestamp", "event"]) == \
        ColumnMapping("visitorid", "itemid", "timestamp", None, "event")
    assert detect_mapping(["a", "b", "c"]) is None


def test_movielens_100k_gives_the_expected_dataset() -> None:
    path = shared_log("ml100k_recbole/ml-100k.inter")
    preview, raw = _read(path)
    events = prepare_events(raw, PrepareSettings(session_threshold_s=1800, min_item_support=10,
                                                 min_session_length=3, min_user_sessions=5))
    stats = table1_statistics(events)
    # The figures describe the filtered log (before the split removes 5 test events
    # whose item never occurs in training): 19,490 events, 93 users, 1,146 items, 747 sessions.
    assert (stats["events"], stats["users"], stats["items"], stats["sessions"]) == (19_490, 93, 1_146, 747)
    assert stats["train_events"] + stats["test_events"] == 19_490 - 5
    assert stats["test_sessions"] == 93


def test_taobao_slice_with_category_as_item() -> None:
    path = shared_log("taobao_userbehavior_head/UserBehavior_head.csv")
    preview = preview_log(path, "taobao-category")
    frame = read_table(path, preview.file_format)
    # The slice's last line is cut ("100370,1968385,1875258,pv" without a timestamp).
    raw, skipped = build_raw_log(path, frame, preview.mapping, False, skip_invalid_rows=True)
    assert skipped == 1 and raw.n_events == 84_475
    stats = table1_statistics(prepare_events(raw, PrepareSettings(min_item_support=20)))
    assert (stats["events"], stats["users"], stats["sessions"]) == (17_609, 326, 3_215)


def test_otto_jsonl_with_millisecond_timestamps() -> None:
    path = shared_log("otto_tiny/train_first20_sessions.jsonl")
    preview, raw = _read(path)
    assert preview.preset.name == "otto"
    assert raw.n_events == 862 and len(raw.user_ids) == 20 and len(raw.item_ids) == 510
    assert set(raw.event_types) == {"clicks", "carts", "orders"}
    first = json.loads(path.read_text().splitlines()[0])
    # ms -> s: the first user's first event
    assert raw.time[0] == pytest.approx(first["events"][0]["ts"] / 1000.0)
    assert np.all(np.diff(raw.time[raw.user == raw.user[0]]) >= 0)


def test_every_preset_names_columns_consistently() -> None:
    for preset in FORMAT_PRESETS.values():
        if preset.column_names is not None:
            assert set(preset.mapping.used_columns()) <= set(preset.column_names), preset.name


def test_a_pipe_file_whose_values_hold_as_many_spaces_on_every_line_splits_on_the_pipe(tmp_path: Path) -> None:
    from engine.data.reading import sniff_format

    path = tmp_path / "u.item"
    path.write_text("".join(f"{item}|Film number {item} (1995)|01-Jan-1995||http://x|0|1\n" for item in range(3)))
    assert sniff_format(path).delimiter == "|"
    path.write_text("".join(f"{item} {item * 7} 1500000000\n" for item in range(3)))
    assert sniff_format(path).delimiter == " "
