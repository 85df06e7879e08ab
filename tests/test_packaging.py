"""The README's Install section works as written: the wheel and the git URL forms each install a working
package into a fresh venv, and the wheel holds the whole package, the license and the metadata. (The
editable form is the README's first command's, which tests/test_readme.py runs in a clean venv.)

One venv, no pip in it and no dependencies installed (``--no-deps``): it reads the dependencies from this
test's own environment, so the two builds are what costs the time.
"""

from __future__ import annotations

import email
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import otel_cw_exporter
from tests.support import clean_environ

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "otel_cw_exporter"
PROJECT_URL = "https://github.com/otel-cw-exporter/otel-cw-exporter"
RUNTIME = {"opentelemetry-api", "opentelemetry-sdk", "boto3", "pyjwt"}
DEV_TOOLS = {"ruff", "mypy", "boto3-stubs", "build"}


def install_commands() -> list[str]:
    """The commands of the README's Install section, one per line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.partition("\n## Install\n")[2].partition("\n## ")[0]
    blocks = re.findall(r"```sh\n(.+?)\n```", section, re.S)
    assert len(blocks) == 1, "the Install section has one block of commands"
    return blocks[0].splitlines()


def run(command: list[str] | str, cwd: Path, environ: dict[str, str]) -> str:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=environ,
        shell=isinstance(command, str),
        executable="/bin/bash" if isinstance(command, str) else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def requirement_names(metadata: email.message.Message, extra: str | None) -> set[str]:
    found = set()
    for requirement in metadata.get_all("Requires-Dist") or []:
        name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        marker = re.search(r'extra == "([^"]+)"', requirement)
        if (marker.group(1) if marker else None) == extra:
            found.add(name)
    return found


def check_wheel(wheel: Path) -> None:
    """The whole package (every module, py.typed), the license, one version, the classifiers and URLs."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.partition("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        license_text = archive.read(f"{info}/licenses/LICENSE").decode()
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert "otel_cw_exporter/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]
    assert license_text == (ROOT / "LICENSE").read_text() and "Apache License" in license_text
    assert metadata["Version"] == otel_cw_exporter.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = set(metadata.get_all("Classifier") or [])
    versions = {
        c.rpartition(" :: ")[2] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
    assert metadata["Requires-Python"] == ">=3.10"
    assert {"Development Status :: 3 - Alpha", "Typing :: Typed", "Operating System :: OS Independent"} <= classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert set(urls) == {"Homepage", "Source", "Issues", "Changelog"} and all(
        u.startswith(PROJECT_URL) for u in urls.values()
    )
    assert requirement_names(metadata, None) == RUNTIME  # runtime: the SDK, boto3 and PyJWT only
    assert not requirement_names(metadata, "test") & DEV_TOOLS
    assert DEV_TOOLS | {"otel-cw-exporter"} <= requirement_names(metadata, "dev")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_install_section_installs_a_working_package(tmp_path: Path) -> None:
    editable, from_git, from_wheel = install_commands()
    assert editable == "pip install -e '.[fast]'"
    assert "pip install -q -e '.[local]'" in (ROOT / "README.md").read_text()  # the same form, run elsewhere
    assert from_git.startswith("pip install 'otel-cw-exporter[") and f"@ git+{PROJECT_URL}'" in from_git
    assert from_wheel.startswith("pip wheel ")

    # A clone: the repository's files, committed, with no build leftovers.
    clone = tmp_path / "clone"
    shutil.copytree(
        ROOT,
        clone,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "build", "dist"
        ),
    )
    environ = clean_environ(tmp_path)
    environ.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t")
    environ.update(GIT_COMMITTER_EMAIL="t@example.com", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    for git in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "clone"]):
        run(git, clone, environ)

    # A fresh venv without pip; the dependencies (not the package) come from this test's environment.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, environ)
    python = venv / "bin" / "python"
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, environ).strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # `pip` in the README's lines: this pip, installing into the venv, without dependencies.
    pip = f'pip() {{ {shlex.quote(sys.executable)} -m pip -q --python {shlex.quote(str(python))} "$@" --no-deps; }}'

    def installed(where: Path) -> None:
        """The venv imports the package from ``where`` and its console script runs."""
        found = run([str(python), "-c", "import otel_cw_exporter; print(otel_cw_exporter.__file__)"], tmp_path, environ)
        assert Path(found.strip()).is_relative_to(where), found
        version = run([str(venv / "bin" / "otel-cw-exporter"), "--version"], tmp_path, environ)
        assert version.strip() == f"otel-cw-exporter {otel_cw_exporter.__version__}"

    run(f"{pip}\n{from_wheel}", clone, environ)
    [wheel] = (clone / "dist").glob("otel_cw_exporter-*.whl")
    assert wheel.name == f"otel_cw_exporter-{otel_cw_exporter.__version__}-py3-none-any.whl"
    check_wheel(wheel)
    installed(site)

    # The git URL's form, at the clone (pip's parser wants a host: git reads file://localhost/ as file:///).
    uninstall = (
        f"{shlex.quote(sys.executable)} -m pip -q --python {shlex.quote(str(python))} uninstall -y otel-cw-exporter"
    )
    run(f"{pip}\n{uninstall}\n{from_git.replace(PROJECT_URL, f'file://localhost{clone}')}", tmp_path, environ)
    installed(site)
