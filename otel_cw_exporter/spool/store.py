"""One spool file: a SQLite database (WAL) of final encoded events, with its schema version.

An event is kept as CloudWatch will get it (log group, log stream, timestamp, message as UTF-8 bytes),
so a replay sends the very bytes the export would have sent: nothing is encoded again. Each write is
one transaction: a process killed in the middle of one leaves the file as it was before it (SQLite's
write-ahead log), never torn. ``synchronous=NORMAL``: a committed write survives the process being
killed; an operating-system crash or power loss may undo the last writes, never corrupt the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from otel_cw_exporter.encode.event import Event

#: The layout this version writes and reads (``PRAGMA user_version``); another one is set aside, not read.
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    log_group TEXT NOT NULL,
    log_stream TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    message BLOB NOT NULL,
    size INTEGER NOT NULL,
    spooled_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp, id);
"""


class UnreadableSpool(Exception):
    """A file that is not a spool this version can read: corrupt, not SQLite, or another schema version."""


class SpoolUnavailable(OSError):
    """The file could not be written or read just now (disk full, I/O error, locked too long)."""


def _failure(error: sqlite3.Error) -> Exception:
    """What a SQLite error means here: the file is bad (set it aside), or the disk is (try again later)."""
    if isinstance(error, (sqlite3.OperationalError, sqlite3.ProgrammingError)):  # Programming: closed meanwhile
        return SpoolUnavailable(str(error))
    return UnreadableSpool(str(error))


@dataclass(frozen=True)
class Row:
    """One kept event and where it goes."""

    id: int
    group: str
    stream: str
    event: Event


@dataclass(frozen=True)
class Destination:
    """What a file holds for one log group and stream."""

    group: str
    stream: str
    events: int
    bytes: int
    oldest_ms: int


def _message_bytes(message: str) -> bytes:
    return message.encode("utf-8", "surrogatepass")  # a lone surrogate goes and comes back as it was


def _event(timestamp: int, message: bytes, size: int) -> Event:
    return Event(timestamp, message.decode("utf-8", "surrogatepass"), size, False)


class Store:
    """One spool file, safe to use from several threads; every method raises :class:`UnreadableSpool`
    when the file turns out not to be readable, :class:`SpoolUnavailable` when the disk fails."""

    def __init__(self, path: Path, *, create: bool = False, readonly: bool = False) -> None:
        self.path = path
        self.closed = False
        self._lock = threading.Lock()
        try:
            if readonly:
                self._db = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5, check_same_thread=False
                )
            else:
                self._db = sqlite3.connect(str(path), timeout=5, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise UnreadableSpool(f"cannot open it: {error}") from None
        try:
            self._open(create, readonly)
        except sqlite3.Error as error:
            self._db.close()
            raise UnreadableSpool(f"not a readable spool file ({error})") from None
        except UnreadableSpool:
            self._db.close()
            raise

    def _open(self, create: bool, readonly: bool) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and create and not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise UnreadableSpool(
                f"schema version {version}, this version of otel-cw-exporter reads {SCHEMA_VERSION}"
                + (" (a newer otel-cw-exporter wrote it: replay it with that one)" if version > SCHEMA_VERSION else "")
            )
        if not readonly:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        count, size, oldest = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(timestamp) FROM events"
        ).fetchone()
        self.events = int(count)
        self.bytes = int(size)
        self.oldest_ms: int | None = oldest

    def _run(self, sql: str, parameters: Iterable[object] = ()) -> list[tuple[object, ...]]:
        try:
            return self._db.execute(sql, tuple(parameters)).fetchall()
        except sqlite3.Error as error:
            raise _failure(error) from None

    def _refresh_oldest(self) -> None:
        found = self._run("SELECT MIN(timestamp) FROM events")
        self.oldest_ms = found[0][0] if found else None  # type: ignore[assignment]

    # -- writing ------------------------------------------------------------------------------------

    def add(self, group: str, stream: str, events: Sequence[Event], now_ms: int) -> None:
        """Keep ``events`` for ``group``/``stream``, in one transaction (all of them, or none)."""
        rows = [(group, stream, e.timestamp, _message_bytes(e.message), e.size, now_ms) for e in events]
        with self._lock:
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.executemany(
                        "INSERT INTO events (log_group, log_stream, timestamp, message, size, spooled_ms)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.Error as error:
                raise _failure(error) from None
            self.events += len(rows)
            self.bytes += sum(row[4] for row in rows)
            oldest = min(e.timestamp for e in events) if events else None
            if oldest is not None and (self.oldest_ms is None or oldest < self.oldest_ms):
                self.oldest_ms = oldest

    def delete(self, ids: Sequence[int]) -> int:
        """Remove the events with these ids (those still here); how many went."""
        if not ids:
            return 0
        removed = 0
        with self._lock:
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    for start in range(0, len(ids), 500):
                        part = list(ids[start : start + 500])
                        marks = ",".join("?" * len(part))
                        size = self._db.execute(
                            f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM events WHERE id IN ({marks})", part
                        ).fetchone()
                        self._db.execute(f"DELETE FROM events WHERE id IN ({marks})", part)
                        removed += size[0]
                        self.bytes -= size[1]
            except sqlite3.Error as error:
                raise _failure(error) from None
            self.events -= removed
            self._refresh_oldest()
        return removed

    def delete_matching(self, group: str, stream: str, events: Sequence[Event]) -> int:
        """Remove one kept copy of each of ``events`` (stored after all); how many were still here."""
        ids: list[int] = []
        with self._lock:
            for event in events:
                found = self._run(
                    "SELECT id FROM events WHERE timestamp = ? AND log_group = ? AND log_stream = ? AND message = ?"
                    " LIMIT 1",
                    (event.timestamp, group, stream, _message_bytes(event.message)),
                )
                if found:
                    ids.append(int(found[0][0]))  # type: ignore[call-overload]
        return self.delete(ids)

    # -- reading ------------------------------------------------------------------------------------

    def oldest(self, max_events: int, max_bytes: int, skip: frozenset[int] = frozenset()) -> list[Row]:
        """The oldest events (by timestamp), at most ``max_events`` and about ``max_bytes`` (at least one),
        leaving out the ids in ``skip``."""
        rows: list[Row] = []
        total = 0
        with self._lock:
            found = self._run(
                "SELECT id, log_group, log_stream, timestamp, message, size FROM events ORDER BY timestamp, id LIMIT ?",
                (max_events + len(skip),),
            )
        for row_id, group, stream, timestamp, message, size in found:
            if row_id in skip:
                continue
            if len(rows) >= max_events or (rows and total + int(size) > max_bytes):  # type: ignore[call-overload]
                break
            total += int(size)  # type: ignore[call-overload]
            rows.append(Row(int(row_id), str(group), str(stream), _event(timestamp, message, int(size))))  # type: ignore[arg-type,call-overload]
        return rows

    def older_than(self, timestamp_ms: int, limit: int = 10_000) -> list[Row]:
        """Events logged before ``timestamp_ms``, oldest first."""
        with self._lock:
            found = self._run(
                "SELECT id, log_group, log_stream, timestamp, message, size FROM events WHERE timestamp < ?"
                " ORDER BY timestamp, id LIMIT ?",
                (timestamp_ms, limit),
            )
        return [
            Row(int(i), str(g), str(s), _event(t, m, int(z)))  # type: ignore[arg-type,call-overload]
            for i, g, s, t, m, z in found
        ]

    def destinations(self) -> list[Destination]:
        """Events, bytes and the oldest timestamp per log group and stream."""
        with self._lock:
            found = self._run(
                "SELECT log_group, log_stream, COUNT(*), SUM(size), MIN(timestamp) FROM events"
                " GROUP BY log_group, log_stream ORDER BY log_group, log_stream"
            )
        return [Destination(str(g), str(s), int(n), int(b), int(o)) for g, s, n, b, o in found]  # type: ignore[call-overload]

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._db.close()
