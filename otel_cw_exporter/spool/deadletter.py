"""The dead-letter file: events that will never be stored (or were evicted), as JSON lines a person can read.

Each line: ``{"log_group", "log_stream", "timestamp", "message", "reason", "dead_lettered_at"}``, the
message as it would have been sent. Bounded: when ``dead-letter.jsonl`` would pass ``max_bytes`` it
becomes ``dead-letter.1.jsonl`` (replacing the one before) and a new file starts, so the two hold at
most about twice the bound. Processes sharing the directory take a lock around each write.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from otel_cw_exporter.encode.event import Event

NAME = "dead-letter.jsonl"
OLDER = "dead-letter.1.jsonl"
_LOCK = "dead-letter.lock"


def lines(group: str, stream: str, events: Iterable[Event], reason: str, now_ms: int) -> list[bytes]:
    """The JSON lines for ``events`` (pure)."""
    return [
        json.dumps(
            {
                "log_group": group,
                "log_stream": stream,
                "timestamp": event.timestamp,
                "message": event.message,
                "reason": reason,
                "dead_lettered_at": now_ms,
            }
        ).encode("ascii")
        + b"\n"
        for event in events
    ]


class DeadLetter:
    """Appends to the dead-letter file of one spool directory."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.path = directory / NAME
        self._older = directory / OLDER
        self._lock_path = directory / _LOCK
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        self._lock = threading.Lock()

    def write(self, group: str, stream: str, events: Iterable[Event], reason: str) -> int:
        """Append a line per event; how many were written (OSError when none could be)."""
        pending = lines(group, stream, events, reason, time.time_ns() // 1_000_000)
        written = 0
        with self._lock, _locked(self._lock_path):
            while pending:
                try:
                    size = self.path.stat().st_size
                except FileNotFoundError:
                    size = 0
                room = self._max_bytes - size
                part: list[bytes] = []
                used = 0
                for line in pending:
                    if part and used + len(line) > room:
                        break
                    part.append(line)
                    used += len(line)
                if size and used > room:
                    os.replace(self.path, self._older)  # full: this one becomes the older, a new one starts
                    continue
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, b"".join(part))
                finally:
                    os.close(fd)
                written += len(part)
                pending = pending[len(part) :]
        return written


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock across the processes sharing the directory (where the platform has one)."""
    if sys.platform == "win32":  # the thread lock only
        yield
        return
    import fcntl

    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def count(directory: Path) -> tuple[int, int]:
    """Lines and bytes in the dead-letter files of ``directory`` (for ``spool status``)."""
    events = size = 0
    for name in (OLDER, NAME):
        path = directory / name
        with contextlib.suppress(OSError), path.open("rb") as handle:
            for line in handle:
                events += 1
                size += len(line)
    return events, size
