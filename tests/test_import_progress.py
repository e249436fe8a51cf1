"""An import reports its reading as it goes: a log of 200,000 rows is read in several chunks, each
reported with the rows read so far, and the fractions only grow."""
from __future__ import annotations

from pathlib import Path

from engine.data import synthetic
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log


def test_reading_a_large_log_reports_several_growing_fractions(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    synthetic.generate_log(synthetic.scaled_config(200_000, seed=3)).to_csv(path, index=False)
    reports: list[tuple[float, str]] = []
    with Workspace(tmp_path / "ws.sqlite", create=True) as workspace:
        import_log(workspace, ImportRequest(path, mapping=synthetic.SYNTHETIC_MAPPING),
                   lambda fraction, message: reports.append((fraction, message)))
    reading = [(fraction, message) for fraction, message in reports if message.startswith("reading: ")]
    assert len(reading) >= 3
    fractions = [fraction for fraction, _ in reading]
    assert fractions == sorted(fractions) and 0.1 < fractions[0] < fractions[-1] <= 0.35
    rows = [int(message.removeprefix("reading: ").removesuffix(" rows").replace(",", "")) for _, message in reading]
    assert rows == sorted(rows) and rows[0] < rows[-1]
