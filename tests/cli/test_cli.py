"""The command line as a whole: help, the console script, one exit-code rule, usage errors."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from otel_cw_exporter import cli
from otel_cw_exporter.cli import doctor as cli_doctor
from tests.support import GROUP, clean_environ, run_cli

AWS_OPTIONS = ("--region REGION", "--endpoint-url URL", "--profile PROFILE")


#: Each command's options as its --help shows them, and words of what it says it does.
HELP = {
    "": (("--version", "--debug", "demo", "doctor", "queries", "tail"), ("Exit codes",)),
    "demo": (("--endpoint-url URL", "--aws", "--region REGION", "--profile PROFILE", "--group GROUP"), ("local",)),
    "doctor": (
        (*AWS_OPTIONS, "--group GROUP", "--stream STREAM", "--create-group", "--put-test-event"),
        ("each route", "CREATE_STREAM=false", "SKIP"),
    ),
    "queries": (("install", "list"), ("query definitions",)),
    "queries install": ((*AWS_OPTIONS, "--group GROUP", "--dry-run"), ("Idempotent", "PutQueryDefinition")),
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
        ("Ctrl-C", "at least 0.1"),
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
