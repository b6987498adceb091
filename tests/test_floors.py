"""The floors of docs/architecture.md are a contract (import-linter, run by ``make lint``):
an import that runs back up a floor fails the build. Checked on a copy of the tree, so the
probe never touches the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "layers", "ingest", "app", "cli")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_its_floors(tree: Path) -> None:
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("room", "statement"),
    [
        ("core/probe.py", "import app.main\n"),
        ("core/probe.py", "from layers import REGISTRY\n"),
        ("layers/probe.py", "from ingest.sources import KINDS\n"),
        ("app/probe.py", "from ingest.pipeline import Pipeline\n"),
        ("ingest/probe.py", "from app.errors import problem\n"),
        ("app/probe.py", "from cli.main import main\n"),
    ],
)
def test_an_import_back_up_a_floor_breaks_the_contract(tree: Path, room: str, statement: str) -> None:
    (tree / room).write_text(statement)
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout, result.stdout
