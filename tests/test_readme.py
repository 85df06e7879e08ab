"""The README's commands work as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import clean_environ

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_readme_first_command_in_a_clean_venv(tmp_path: Path) -> None:
    """The README's first command, verbatim, in a copy of the repository: a new venv, a real install of
    the package and its ``local`` extra (from the package index), then the demo. About a minute."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```sh\n(.+?)\n```", readme, re.S)
    assert command is not None
    first = command.group(1).strip()
    assert first.endswith("otel-cw-exporter demo"), first
    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", ".*_cache", "build"),
    )
    environ = clean_environ(tmp_path)
    environ.pop("VIRTUAL_ENV", None)
    environ["PATH"] = os.pathsep.join(p for p in environ.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", first], cwd=copy, env=environ, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (copy / ".venv" / "bin" / "otel-cw-exporter").exists()
    assert 'Log group "integrates": 6 events in 3 streams' in done.stdout
    assert "selects 2 of 6 events:" in done.stdout and "selects 1 of 6 events:" in done.stdout
    print(f"clean install and demo: {time.monotonic() - started:.0f} s")
