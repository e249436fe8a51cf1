"""A team workspace on a PostgreSQL server: import, train, evaluate and report through a
SQLAlchemy URL. Runs where a PostgreSQL server and psycopg are installed (a throw-away cluster on a
Unix socket in a temporary folder, no TCP); skipped otherwise."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.logs import session_rows, write_csv


def _server_binaries() -> Path | None:
    on_path = shutil.which("initdb")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([on_path] if on_path else [])
    return Path(found[-1]).parent if found else None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["su", "postgres", "-c", " ".join(f"'{part}'" for part in command)]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'hrnn-workbench[postgres]')")
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    folder = Path(tempfile.mkdtemp(prefix="hrnn-pg-"))
    os.chmod(folder, 0o777)
    with socket.socket() as probe:  # a free port number for the socket file's name
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    subprocess.run(_as_server_user([str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True)
    subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"),
                                    "-o", f"-p {port} -k {folder} -c listen_addresses=", "start"]),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={folder}&port={port}"
    finally:
        subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_import_train_evaluate_report_on_postgresql(postgres_url: str, tmp_path: Path, capsys) -> None:
    rows: list[tuple] = []
    for user in range(12):
        for index in range(6):
            rows += session_rows(f"u{user}", 1_500_000_000 + index * 100_000, ["a", "b", "c", f"x{user % 3}"])
    log = write_csv(tmp_path / "team.csv", rows)
    common = ["--workspace", postgres_url]
    assert main(["import", str(log), "--min-item-support", "1", *common]) == 0
    assert main(["import", str(log), "--min-item-support", "1", *common]) == 0
    assert "already imported" in capsys.readouterr().out
    assert main(["train", "team", "--model", "pop", *common]) == 0
    assert main(["train", "team", "--model", "hrnn-init", "--set", "epochs=1", *common]) == 0
    capsys.readouterr()
    assert main(["report", "team", "--k", "5", *common]) == 0
    out = capsys.readouterr().out
    assert "Pop" in out and "HRNN Init, small, epochs=1" in out
