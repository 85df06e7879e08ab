"""The command line as a whole: help, the console script, one exit-code rule, usage errors."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
import types
from pathlib import Path

import pytest

from otel_cw_exporter import cli
from otel_cw_exporter.cli import doctor as cli_doctor
from tests.support import GROUP, UNKNOWN_WORDS, clean_environ, run_all, run_cli, start_cli

AWS_OPTIONS = ("--region REGION", "--endpoint-url URL", "--profile PROFILE")


#: Each command's options as its --help shows them, and words of what it says it does.
HELP = {
    "": (("--version", "--debug", "demo", "local", "doctor", "queries", "tail"), ("Exit codes",)),
    "demo": (
        ("--keep", "--endpoint-url URL", "--aws", "--region REGION", "--profile PROFILE", "--group GROUP"),
        ("local", "queries list --catalog", "until Ctrl-C"),
    ),
    "local": (("--port PORT",), ("127.0.0.1", "export", "until Ctrl-C or SIGTERM (exit code 0)", "(default: 4599)")),
    "doctor": (
        (*AWS_OPTIONS, "--group GROUP", "--stream STREAM", "--create-group", "--put-test-event"),
        ("each route", "CREATE_STREAM=false", "SKIP", "at most 3 s to connect and 5 s for an answer", "within 20 s"),
    ),
    "queries": (("install", "list"), ("query definitions",)),
    "queries install": (
        (*AWS_OPTIONS, "--group GROUP", "--dry-run"),
        ("Idempotent", "PutQueryDefinition", "queries list --catalog"),
    ),
    "queries list": ((*AWS_OPTIONS, "--group GROUP", "--catalog"), ("outdated",)),
    "tail": (
        (
            *AWS_OPTIONS,
            "--group GROUP",
            "--stream STREAM",
            "--log-type TYPE",
            "--user EMAIL",
            "--trace-id ID",
            "--level LEVEL",
            "--since SINCE",
            "--interval SECONDS",
            "--no-follow",
            "--json",
        ),
        ("Ctrl-C or SIGTERM", "at least 0.1", "in any case", "does not exist is an error"),
    ),
}


@pytest.mark.parametrize("command", list(HELP), ids=lambda command: command or "top")
def test_help_on_every_command_shows_its_options(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        cli.main([*command.split(), "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: otel-cw-exporter {command}".rstrip())
    assert all(len(line) <= 100 for line in out.splitlines())
    options, words = HELP[command]
    text = " ".join(out.split())
    for option in (*options, *words):
        assert option in text, option
    listed = out.partition("\noptions:\n")[2]
    shown = set(re.findall(r"^  (?:-\w, )?(--[a-z][a-z-]+)", listed, re.M)) - {"--help"}
    assert shown == {option.split()[0] for option in options if option.startswith("--")}, shown


def test_console_script_and_module_both_run(tmp_path: Path) -> None:
    done = run_cli(["--version"], clean_environ(tmp_path), tmp_path, module=False)
    assert done.returncode == 0 and done.stdout.strip() == "otel-cw-exporter 0.1.0", done.stderr
    done = run_cli([], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert "demo" in done.stderr and "tail" in done.stderr


def test_exit_codes_are_one_rule_said_the_same_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    def words(text: str) -> str:
        return " ".join(text.replace("`", "").split())

    rule = words(cli.EXIT_CODES)
    assert "0 ok; 1 an AWS call or a check failed" in rule and "2 a usage or configuration error" in rule
    assert rule in words(cli.__doc__ or "")
    assert rule in words(cli.EPILOG)
    with pytest.raises(SystemExit):
        cli.main(["doctor", "--help"])
    doctor_help = words(capsys.readouterr().out)
    assert "Exit code 0 when no check fails; 2 when a failed check is the configuration, the credentials" in doctor_help
    # What the rule says, as the code does it (the commands themselves: the tests of each one below).
    assert (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED) == (0, 1, 2, 130)
    doctor = cli_doctor.Doctor(types.SimpleNamespace(), lambda line: None)
    doctor.checks = [cli_doctor.Check("log group", "FAIL", "missing"), cli_doctor.Check("retention", "PASS", "")]
    assert doctor.finish() == 1
    doctor.checks.append(cli_doctor.Check("region", "FAIL", "no AWS region configured", exit_code=cli.EXIT_USAGE))
    assert doctor.finish() == 2
    doctor.checks = [cli_doctor.Check("log group", "SKIP", "not checked")]
    assert doctor.finish() == 0


def test_a_usage_error_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    done = run_cli(["tail", "--group", GROUP, "--since", "yesterday"], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "otel-cw-exporter tail: error: argument --since: 'yesterday' is not a duration (10m, 90s, 2h, 1d) or an "
        "ISO-8601 time (2026-11-24T09:00:00Z) (see otel-cw-exporter tail --help)"
    ]


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background-job"])
@pytest.mark.parametrize(
    ("command", "code"),
    [(["tail", "--group", GROUP], 0), (["doctor", "--group", GROUP], 130), (["queries", "install"], 130)],
    ids=["tail", "doctor", "queries"],
)
def test_ctrl_c_before_the_first_aws_call_ends_without_a_traceback(
    tmp_path: Path, command: list[str], code: int, background: bool
) -> None:
    """Ctrl-C while boto3 still gathers the credentials (a credential_process that waits): no traceback,
    exit code 130, or 0 for tail, also for a background job, which inherits SIGINT as ignored."""
    marker = tmp_path / "credential-process-started"
    (tmp_path / "no-aws-config").write_text(
        f"[default]\ncredential_process = sh -c 'echo $$ > {marker}; exec sleep 60'\n", encoding="utf-8"
    )
    environ = clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1", OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP)
    running = start_cli(command, environ, tmp_path, background=background)
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
            assert running.process.poll() is None, running.err
            time.sleep(0.05)
        assert marker.exists(), "the command never asked for credentials"
        assert running.stop(signal.SIGINT, timeout=20) == code
    finally:
        running.kill()
        if marker.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(marker.read_text().strip()), signal.SIGKILL)
    stderr = "".join(running.err)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    if command[0] == "tail":
        assert stderr.strip() == "Stopped after 0 event(s)."


def test_help_and_catalog_use_no_word_a_user_cannot_know(tmp_path: Path) -> None:
    environ = clean_environ(tmp_path)
    *helps, catalog = run_all(
        [*(([*command.split(), "--help"], environ) for command in HELP), (["queries", "list", "--catalog"], environ)],
        tmp_path,
    )
    assert [done.returncode for done in (*helps, catalog)] == [0] * (len(HELP) + 1)
    texts = [done.stdout for done in helps]
    assert "(verbatim, as the watchtower-based setup saved it)" in catalog.stdout
    texts.append(catalog.stdout)
    found = [match.group(0) for text in texts for match in UNKNOWN_WORDS.finditer(text)]
    assert found == []


#: Run at start-up through sitecustomize: Ctrl-C arrives while botocore is being imported, the moment
#: the command is slowest to start (before, the package imported it before any of the command's code ran).
CTRL_C_DURING_IMPORTS = """
import os, signal, sys

class CtrlCWhileImportingBotocore:
    def find_spec(self, name, path=None, target=None):
        if name == "botocore":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCWhileImportingBotocore())
"""


@pytest.mark.parametrize(("command", "code"), [("doctor", 130), ("tail", 0), ("queries", 130)])
def test_ctrl_c_while_the_command_is_still_importing_prints_no_traceback(
    tmp_path: Path, command: str, code: int
) -> None:
    (tmp_path / "sitecustomize.py").write_text(CTRL_C_DURING_IMPORTS)
    environ = clean_environ(tmp_path, PYTHONPATH=str(tmp_path), AWS_DEFAULT_REGION="us-east-1")
    done = run_cli([command, "--group", "g"] if command != "queries" else [command, "list"], environ, tmp_path)
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.returncode == code, done.stderr
