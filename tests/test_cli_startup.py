"""The command line answers --help and refuses bad input without loading the heavy engine (torch,
scipy.stats, Optuna): each subcommand declares its arguments only when it runs, and its handler
imports the use cases it calls (issue 20: no hang over 10 s). And ``models`` lists the registry."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import COMMANDS, main
from engine.runs.models import MODELS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "scipy.stats", "optuna", "pandas")
#: Runs ``main`` on the arguments and prints the heavy modules it loaded.
PROBE = ("import json, sys\nfrom engine.cli.main import main\n"
         "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
         f"print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))")


def _loaded(*argv: str) -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_help_loads_none_of_the_heavy_libraries() -> None:
    loaded, _ = _loaded("--help")
    assert loaded == []


def test_an_import_refusal_loads_none_of_them_and_creates_no_workspace(tmp_path: Path) -> None:
    loaded, stderr = _loaded("import", str(tmp_path / "missing.csv"), "--workspace", str(tmp_path / "ws.sqlite"))
    assert "no such file" in stderr
    assert loaded == []
    assert not (tmp_path / "ws.sqlite").exists()


def test_every_subcommand_has_its_help_and_arguments() -> None:
    names = [command.name for command in COMMANDS]
    assert len(names) == len(set(names))
    for name in names:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0


def test_models_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--names"]) == 0
    assert capsys.readouterr().out.split() == list(MODELS.names())
    assert main(["models", "--kind", "baseline", "--names"]) == 0
    assert capsys.readouterr().out.split() == [entry.name for entry in MODELS if not entry.neural]
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert all(entry.label in table for entry in MODELS) and "session twin" in table
