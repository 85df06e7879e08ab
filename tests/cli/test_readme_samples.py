"""The README's "Command line" samples, run as written against ``otel-cw-exporter local``.

Every ``$`` command of the section runs in a shell with the variables ``local`` printed (its port is the
one the test got), in the order the README shows them. Its exit code is the one ``$ echo $?`` shows
(else 0), and its output has the README's lines, times, trace ids, ports and durations aside; a line
``…`` stands for lines cut from the output.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import ROOT, SCRIPT, Running, clean_environ, local_endpoint

#: What varies from run to run, in the README's text: each kind and the pattern that matches any value.
VARYING = re.compile(
    r"(?P<id>\b[0-9a-f]{32}\b)"
    r"|(?P<date>\b\d{4}-\d\d-\d\d\b)"
    r"|(?P<time>\b\d\d:\d\d:\d\d\.\d{3}\b)"
    r"|(?P<short>\b[0-9a-f]{8}\b)"
    r"|(?P<port>(?<=127\.0\.0\.1:)\d+)"
    r"|(?P<ms>(?<=answered in )\d+(?= ms))"
)
ANY = {"id": "([0-9a-f]{32})", "date": r"\d{4}-\d\d-\d\d", "time": r"\d\d:\d\d:\d\d\.\d{3}"}
ANY.update(short="[0-9a-f]{8}", port=r"\d+", ms=r"\d+")
CUT = "…"
README_PORT = "4599"


@dataclass
class Sample:
    command: str
    output: list[str]
    exit_code: int = 0


@dataclass
class Ids:
    """The README's trace ids and the ones this run made, as the outputs paired them."""

    actual: dict[str, str] = field(default_factory=dict)

    def learn(self, readme: list[str], found: tuple[str, ...]) -> None:
        for shown, real in zip(readme, found, strict=True):
            assert self.actual.setdefault(shown, real) == real, f"{shown} stands for two ids"

    def replace(self, command: str) -> str:
        return re.sub(r"\b[0-9a-f]{32}\b", lambda m: self.actual.get(m.group(0), m.group(0)), command)


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Command line\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def samples(text: str) -> Iterator[Sample]:
    """The ``$`` commands of the console blocks, each with the output shown after it."""
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        current: Sample | None = None
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            if not line.startswith("$ "):
                assert current is not None, f"output before a command: {line!r}"
                current.output.append(line.rstrip())
                continue
            command = line[2:]
            while not complete(command):
                command += "\n" + lines[index]
                index += 1
            if command == "echo $?":
                assert current is not None and len(lines) > index
                current.exit_code = int(lines[index])
                index += 1
                continue
            if current is not None:
                yield current
            current = Sample(command, [])
        if current is not None:
            yield current


def pattern(lines: list[str]) -> tuple[re.Pattern[str], list[str]]:
    """A pattern for output with these lines, and the README's trace ids in the order it captures them."""
    parts: list[str] = []
    ids: list[str] = []
    for line in lines:
        if line == CUT:
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        position = 0
        for match in VARYING.finditer(line):
            parts.append(re.escape(line[position : match.start()]))
            kind = match.lastgroup or ""
            parts.append(ANY[kind])
            if kind == "id":
                ids.append(match.group(0))
            position = match.end()
        parts.append(re.escape(line[position:]) + r"\n")
    return re.compile("".join(parts)), ids


def shown_as_readme(text: str) -> str:
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def check_output(sample: Sample, output: str, ids: Ids) -> None:
    expected, readme_ids = pattern(sample.output)
    actual = shown_as_readme(output)
    match = expected.fullmatch(actual)
    assert match is not None, f"$ {sample.command}\n{first_difference(sample.output, actual)}\n--- ran:\n{actual}"
    ids.learn(readme_ids, match.groups())


def first_difference(lines: list[str], actual: str) -> str:
    """The first README line the output does not have, for the failure message."""
    for count in range(1, len(lines) + 1):
        prefix, _ = pattern(lines[:count])
        if prefix.match(actual) is None:
            return f"the output differs from the README at its line {count}: {lines[count - 1]!r}"
    return "the output goes on after the README's last line"


def test_the_section_has_the_samples_it_promises() -> None:
    text = section()
    assert "against `otel-cw-exporter local --port 4599`" in " ".join(text.split())
    commands = [sample.command for sample in samples(text)]
    assert len(commands) >= 10, commands
    assert all("otel-cw-exporter " in command for command in commands), commands
    for word in ("local", "demo", "doctor", "queries install", "queries list", "tail"):
        assert any(f"otel-cw-exporter {word}" in command for command in commands), word


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_command_line_sample_runs_as_written(tmp_path: Path) -> None:
    ids = Ids()
    with local_endpoint(tmp_path) as (server, variables):
        url = variables["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"]
        port = url.rsplit(":", 1)[1]
        environ = clean_environ(tmp_path, **variables)
        environ["PATH"] = f"{SCRIPT.parent}:{environ.get('PATH', '')}"
        ran = 0
        for sample in samples(section()):
            command = ids.replace(sample.command.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}"))
            if shlex.split(command)[:2] == ["otel-cw-exporter", "local"]:
                # The endpoint the samples run against: what it printed when the test started it.
                assert command == f"otel-cw-exporter local --port {README_PORT}"
                check_output(sample, "".join(server.out), ids)
                continue
            words = shlex.split(command)
            follows = words[:2] == ["otel-cw-exporter", "tail"] and "--no-follow" not in words
            if follows:
                code, output = follow_then_ctrl_c(command, sample, environ, tmp_path)
            else:
                done = subprocess.run(
                    ["bash", "-c", command],
                    env=environ,
                    cwd=tmp_path,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=180,
                    check=False,
                )
                code, output = done.returncode, done.stdout
            assert code == sample.exit_code, f"$ {command}\n{output}"
            check_output(sample, output, ids)
            ran += 1
        assert ran >= 9


def follow_then_ctrl_c(command: str, sample: Sample, environ: dict[str, str], cwd: Path) -> tuple[int, str]:
    """A following ``tail``: run until the last event line the README shows, then Ctrl-C, as the README did."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Running(process)
    try:
        last_event = sample.output[: sample.output.index("")][-1]
        wanted, _ = pattern([last_event])
        while True:
            line = running.read_until("\n", timeout=60)[-1]
            if wanted.fullmatch(shown_as_readme(line)):
                break
        code = running.stop(signal.SIGINT)
    finally:
        running.kill()
    return code, "".join(running.out)
