"""``otel-cw-exporter spool status|replay|purge`` on a real spool directory, against the local endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.spool.files import new_file, spool_files
from otel_cw_exporter.spool.store import Store
from otel_cw_exporter.testing import Fault, LocalCloudWatchLogs
from tests.support import here, in_process, local_environ, run_cli

DAY_MS = 86_400_000


def event(n: int, at: int) -> Event:
    message = json.dumps({"message": "kept", "extra": {"n": n}})
    return Event(at, message, len(message) + 26, False)


def ended_spool(directory: Path) -> Path:
    """A spool file as a process that ended left it: 3 events for app/a (one 10 days old), 2 for app/b."""
    now = int(time.time() * 1000)
    path, lock = new_file(directory)
    store = Store(path, create=True)
    store.add("app", "a", [event(0, now - 10 * DAY_MS), event(1, now - 1000), event(2, now - 500)], now)
    store.add("app", "b", [event(3, now - 800), event(4, now - 100)], now)
    store.close()
    lock.release()
    return path


def test_status_purge_and_replay(
    cloudwatch_logs: LocalCloudWatchLogs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    path = ended_spool(spool)
    environ = local_environ(tmp_path, cloudwatch_logs)
    done = run_cli(["spool", "status", "--dir", str(spool)], environ, tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Spool {spool}: 1 file(s), 5 event(s), ") and ", oldest " in lines[0], lines
    assert any(path.name in line and "ended: replayed at the next start" in line for line in lines), lines
    assert [line.split()[:2] for line in lines if line.strip().startswith("app/")] == [["app/a", "3"], ["app/b", "2"]]
    assert lines[-1] == f"Dead-letter file {spool / 'dead-letter.jsonl'}: 0 event(s), 0 B"

    in_process(monkeypatch, environ)
    code, out, _ = here(capsys, ["spool", "purge", "--dir", str(spool), "--older-than", "7d"])
    assert code == 0 and out.startswith("Purged 1 event(s) logged before "), out

    cloudwatch_logs.inject(
        lambda call: Fault("ServiceUnavailableException", 503) if call.operation == "PutLogEvents" else None
    )
    code, out, _ = here(capsys, ["spool", "replay", "--dir", str(spool), "--create-group", "--timeout", "0.5"])
    assert code == 1 and "stay in the spool" in out, out
    assert spool_files(spool) == [path]

    cloudwatch_logs.clear_faults()
    code, out, _ = here(capsys, ["spool", "replay", "--dir", str(spool), "--create-group"])
    assert (code, out.splitlines()[0]) == (
        0,
        f"Replayed 4 event(s) from {spool}; 0 refused by CloudWatch for good, written to the dead-letter file.",
    ), out
    assert sorted(json.loads(e["message"])["extra"]["n"] for e in cloudwatch_logs.raw_events("app")) == [1, 2, 3, 4]
    assert spool_files(spool) == []  # drained, and removed
    code, out, _ = here(capsys, ["spool", "status", "--dir", str(spool)])
    assert out.splitlines()[0] == f"Spool {spool}: 0 file(s), 0 event(s), 0 B"


def test_replay_to_a_missing_group_names_the_option_that_creates_it(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    ended_spool(spool)
    done = run_cli(["spool", "replay", "--dir", str(spool)], local_environ(tmp_path, cloudwatch_logs), tmp_path)
    assert done.returncode == 1 and "stay in the spool" in done.stdout, done.stdout + done.stderr
    refused = [line for line in done.stderr.splitlines() if "refused" in line]
    assert refused and all(
        line.startswith("otel-cw-exporter: warning: CloudWatch Logs refused events for log group 'app'")
        and line.endswith("create the log group, or pass --create-group")
        for line in refused
    ), done.stderr


def test_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    in_process(monkeypatch, {})
    code, _, err = here(capsys, ["spool", "status", "--dir", str(tmp_path / "missing")])
    assert code == 2 and err.strip() == (
        f"otel-cw-exporter: error: no spool directory '{tmp_path / 'missing'}'; "
        "fix: pass the spool_dir the application is configured with"
    )
    code, _, err = here(capsys, ["spool", "status"])
    assert code == 2 and "pass --dir DIR, or set OTEL_EXPORTER_CLOUDWATCH_LOGS_SPOOL_DIR" in err
    with pytest.raises(SystemExit) as exit_:
        here(capsys, ["spool", "purge", "--dir", str(tmp_path), "--older-than", "soon"])
    assert exit_.value.code == 2


def test_an_unreadable_file_is_said_and_does_not_stop_a_purge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "spool-1-garbage.sqlite3").write_bytes(b"not a database at all" * 100)
    good = ended_spool(spool)
    in_process(monkeypatch, {})
    code, out, _ = here(capsys, ["spool", "status", "--dir", str(spool)])
    [line] = [line for line in out.splitlines() if "spool-1-garbage" in line]
    assert code == 0 and "unreadable" in line and "replayed at the next start" not in line, out
    code, out, _ = here(capsys, ["spool", "purge", "--dir", str(spool), "--older-than", "7d"])
    assert code == 1 and out.startswith("Purged 1 event(s)") and "Not purged, unreadable: spool-1-garbage" in out, out
    assert good in spool_files(spool)  # the readable file was purged all the same, and kept its other events
