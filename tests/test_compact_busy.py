"""Compacting a workspace that another program reads (issue 20): refused at once, saying why,
with nothing changed; never a growth reported as a compaction."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import InputError
from engine.workbench.managing import compact_workspace


def test_compacting_while_another_program_reads_is_refused_at_once(small_dataset, capsys) -> None:
    workspace, _ = small_dataset
    path = Path(workspace.file_path)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM dataset_events").fetchone()  # holds its snapshot
        began = time.perf_counter()
        with pytest.raises(InputError, match="is in use by another program that is reading or writing it"):
            compact_workspace(workspace)
        assert main(["workspace", "compact", "--workspace", str(path)]) == 2
        err = capsys.readouterr().err
        assert "compacting needs it alone" in err and "->" not in err
        assert time.perf_counter() - began < 10
    finally:
        reader.close()
    outcome = compact_workspace(workspace)
    assert outcome.complete and outcome.bytes_after <= outcome.bytes_before
