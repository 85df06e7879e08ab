"""The package's shape: every public import path works, no import cycle, no module reads another's private names."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import logging.config
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import otel_cw_exporter

PACKAGE = Path(otel_cw_exporter.__file__).parent
ROOT = PACKAGE.parent
#: What the README and the package's docstrings tell users to import.
PUBLIC_NAMES = {
    "otel_cw_exporter": [
        "CloudWatchLogRecordExporter",
        "ConfigError",
        "EnvironmentFilter",
        "ExporterStats",
        "JWTIdentityResolver",
        "OTelHandler",
        "Route",
        "cloudwatch_handler",
        "cloudwatch_log",
        "cloudwatch_log_async",
        "setup",
        "teardown",
        "records_not_exported",
        "__version__",
    ],
    "otel_cw_exporter.testing": [
        "LocalCloudWatchLogs",
        "Fault",
        "Call",
        "PutRecord",
        "RequestQuota",
        "cloudwatch_logs",
    ],
    "otel_cw_exporter.stdlib": ["OTelHandler", "cloudwatch_handler"],
    "otel_cw_exporter.audit": ["cloudwatch_log", "cloudwatch_log_async", "drain"],
    "otel_cw_exporter.aws_lambda": ["flush_after", "flushing", "flush"],
    "otel_cw_exporter.cli": ["main"],
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path


ALL_MODULES = dict(modules())


def imports_of(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line): module-level and inside functions alike."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import (the package imports absolutely)"
            yield node.module or "", [alias.name for alias in node.names], node.lineno


def edges(name: str, path: Path) -> set[str]:
    """The package's modules ``name`` imports (a ``from pkg import submodule`` is an edge to the submodule)."""
    found: set[str] = set()
    for module, names, _ in imports_of(path):
        if not module.startswith("otel_cw_exporter"):
            continue
        targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in ALL_MODULES]
        if len(targets) < len(names) or not names:
            targets.append(module)
        found.update(t for t in targets if t != name)
    return found


@pytest.mark.parametrize("module", sorted(PUBLIC_NAMES))
def test_every_public_import_path_works(module: str) -> None:
    imported = importlib.import_module(module)
    for name in PUBLIC_NAMES[module]:
        assert getattr(imported, name, None) is not None, f"{module}.{name}"


def test_dictconfig_paths_and_entry_points_resolve() -> None:
    resolve = logging.config.BaseConfigurator({}).resolve
    assert resolve("otel_cw_exporter.stdlib.cloudwatch_handler") is otel_cw_exporter.cloudwatch_handler
    assert resolve("otel_cw_exporter.EnvironmentFilter") is otel_cw_exporter.EnvironmentFilter
    points = importlib.metadata.entry_points()
    [exporter] = [p for p in points.select(group="opentelemetry_logs_exporter") if p.name == "cloudwatch"]
    from otel_cw_exporter.zero_code import ZeroCodeLogRecordExporter

    assert exporter.load() is ZeroCodeLogRecordExporter  # builds a CloudWatchLogRecordExporter from the variables
    [script] = [p for p in points.select(group="console_scripts") if p.name == "otel-cw-exporter"]
    assert script.load() is importlib.import_module("otel_cw_exporter.cli").main


def test_the_version_is_one_value_everywhere() -> None:
    from otel_cw_exporter.version import USER_AGENT

    assert importlib.metadata.version("otel-cw-exporter") == otel_cw_exporter.__version__
    assert f"otel-cw-exporter/{otel_cw_exporter.__version__}" == USER_AGENT
    done = subprocess.run(
        [sys.executable, "-m", "otel_cw_exporter", "--version"], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == f"otel-cw-exporter {otel_cw_exporter.__version__}"


def test_no_import_cycle_inside_the_package() -> None:
    graph = {name: edges(name, path) for name, path in ALL_MODULES.items()}
    unknown = {(name, target) for name, targets in graph.items() for target in targets if target not in graph}
    assert not unknown, f"imports of modules that do not exist: {sorted(unknown)}"
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_the_graph_sees_a_cycle_when_there_is_one(tmp_path: Path) -> None:
    """The check above can fail: two modules importing each other, even inside a function, are found."""
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from otel_cw_exporter.config import x\n")
    assert edges("otel_cw_exporter.app.audit", a) == {"otel_cw_exporter.config"}
    b = tmp_path / "b.py"
    b.write_text("from otel_cw_exporter.cli import demo, main\n")
    assert edges("otel_cw_exporter.x", b) == {"otel_cw_exporter.cli.demo", "otel_cw_exporter.cli"}


def test_no_module_reads_another_modules_private_names() -> None:
    offences: list[str] = []
    for name, path in ALL_MODULES.items():
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}
        for module, names, line in imports_of(path):
            if not module.startswith("otel_cw_exporter"):
                continue
            offences.extend(
                f"{name}:{line} imports {module}.{n}" for n in names if n.startswith("_") and not n.startswith("__")
            )
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("otel_cw_exporter"):
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in ALL_MODULES:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(f"{name}:{node.lineno} reads {aliases[node.value.id]}.{node.attr}")
    assert not offences, "\n".join(offences)
