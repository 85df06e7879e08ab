"""The spool of one exporter: its own file, the files it adopted, their bounds, and the dead-letter file.

Events are kept in this process's own file (made on the first event kept: a healthy endpoint costs no
file at all). ``max_bytes`` bounds what this process holds (its file and those it adopted); past it,
and past CloudWatch's 14 days, the oldest events go to the dead-letter file, counted as evicted and
told to ``on_evicted`` (the integrity trail announces them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from otel_cw_exporter import alerts
from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.limits import MAX_EVENT_AGE_MS
from otel_cw_exporter.spool.deadletter import DeadLetter
from otel_cw_exporter.spool.files import Lock, new_file, remove, set_aside, spool_files
from otel_cw_exporter.spool.store import Row, SpoolUnavailable, Store, UnreadableSpool
from otel_cw_exporter.telemetry import Telemetry

#: ``on_evicted(group, stream, events, reason)``: events the spool had kept and will never send.
OnEvicted = Callable[[str, str, Sequence[Event], str], None]
#: Seconds between looks for files of processes that are gone (a look is one directory listing).
ADOPT_INTERVAL = 10.0
#: Connections of a parent process, kept open in a forked child: closing them there would make SQLite
#: treat the parent's write-ahead log as its own and remove it.
_parents_connections: list[Store] = []


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Spool:
    """Keeps events on disk for later; safe to use from several threads; reset in a forked child."""

    def __init__(
        self,
        directory: Path,
        telemetry: Telemetry,
        *,
        max_bytes: int,
        dead_letter_max_bytes: int,
        on_evicted: OnEvicted | None = None,
    ) -> None:
        self.directory = directory
        self._telemetry = telemetry
        self._max_bytes = max_bytes
        self._on_evicted = on_evicted
        self.dead_letter = DeadLetter(directory, dead_letter_max_bytes)
        self._reset()
        telemetry.observe(self.gauges)

    def _reset(self) -> None:
        self._lock = threading.RLock()
        self._own: Store | None = None
        self._own_lock: Lock | None = None
        self._adopted: dict[Path, tuple[Store, Lock]] = {}
        self._last_look = -float("inf")
        self._closed = False
        self._deferred = False  # at shutdown: no eviction after the trail's closing events (see defer_bound)
        self._sending: dict[Path, set[int]] = {}  # ids the replay is sending now: never evicted meanwhile
        self._gone: set[Path] = set()  # our files deleted under us while the replay was sending some of them

    def after_fork(self) -> None:
        """In a forked child: nothing of the parent's (its files stay its own); a file of our own when needed."""
        stores = [self._own] if self._own is not None else []
        stores += [store for store, _ in self._adopted.values()]
        _parents_connections.extend(stores)
        for lock in [self._own_lock, *(lock for _, lock in self._adopted.values())]:
            if lock is not None:
                lock.forget_in_child()
        self.dead_letter.after_fork()
        self._reset()

    # -- keeping ------------------------------------------------------------------------------------

    def keep(self, group: str, stream: str, events: Sequence[Event], reason: str = "") -> bool:
        """Write ``events`` to this process's file; True once committed, False when the disk refused.
        With the ``reason`` they were not stored: said (once a minute per stream), so that a warning of
        the delivery's is never read as a loss."""
        if not events:
            return True
        with self._lock:
            try:
                if self._own is not None and not self._own.path.exists():
                    self._own_deleted()
                if self._own is None:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    path, lock = new_file(self.directory)
                    self._own, self._own_lock = Store(path, create=True), lock
                self._own.add(group, stream, events, _now_ms())
            except (UnreadableSpool, SpoolUnavailable, OSError) as error:
                self._own_failed(error)
                return False
            self._telemetry.add("events_spooled", len(events))
            if not self._deferred:
                self._bound()
            if self._closed:  # after shutdown: let the file go at once, for the next start to replay
                self.close()
        if reason:  # said outside the lock: a slow handler or stderr never holds up the delivery
            self._telemetry.warn(
                f"spooled:{group}:{stream}",
                "kept %d event(s) of %s/%s in the spool (%s): they are replayed once CloudWatch takes them",
                len(events),
                group,
                stream,
                reason,
            )
        return True

    def defer_bound(self) -> None:
        """From now on keep without evicting: at shutdown, once the integrity trail's closing events are
        sealed, an eviction could no longer be announced. The next start (which adopts the file) bounds it."""
        self._deferred = True

    def _own_deleted(self) -> None:
        """Our file was deleted under us (a person, a cleanup job): what it held is gone; say so, start anew."""
        own, lock = self._own, self._own_lock
        assert own is not None
        self._own = self._own_lock = None
        # What the replay is sending now is its to settle: stored, or kept anew in the new file (see done).
        sending = self._sending.pop(own.path, set())
        if sending:
            self._gone.add(own.path)
        lost = max(0, own.events - len(sending))
        own.close()
        if lock is not None:
            lock.release()
        if lost:
            self._telemetry.drop("spool_evicted", lost, f" (the spool file {own.path} was deleted while in use)")
        replaying = f" ({len(sending)} being replayed now are kept anew unless stored)" if sending else ""
        self._telemetry.warn(
            f"spool-deleted:{own.path}",
            "the spool file %s was deleted while in use: %d event(s) it held are lost%s; a new file is made",
            own.path,
            lost,
            replaying,
        )

    def _own_failed(self, error: Exception) -> None:
        own, lock = self._own, self._own_lock
        if isinstance(error, UnreadableSpool) and own is not None:
            self._own = self._own_lock = None
            own.close()
            aside = set_aside(own.path)
            if lock is not None:
                lock.release()
            self._telemetry.warn(
                f"spool:{own.path}", "the spool file %s cannot be read (%s): set aside as %s", own.path, error, aside
            )
            return
        self._telemetry.warn(
            f"spool-write:{self.directory}", "could not write to the spool in %s: %s", self.directory, error
        )

    def _stores(self) -> list[Store]:
        return ([self._own] if self._own is not None else []) + [store for store, _ in self._adopted.values()]

    def _bound(self) -> None:
        """Evict the oldest events until what this process holds fits ``max_bytes``."""
        while True:
            stores = self._stores()
            excess = sum(store.bytes for store in stores) - self._max_bytes
            if excess <= 0:
                return
            # Oldest first; events a replay is sending right now are not evicted meanwhile, so when the
            # oldest file's are all in flight the next file's oldest go (the bound holds either way).
            for store in sorted((s for s in stores if s.events), key=lambda s: s.oldest_ms or 0):
                rows = store.oldest(10_000, excess, self._busy(store))
                if rows:
                    self._evict(store, rows, "spool_full")
                    break
            else:
                return  # all that is left is in flight: the bound is met once the replay settles

    def _evict(self, store: Store, rows: Sequence[Row], reason: str) -> None:
        """Events the spool kept and gives up on: to the dead-letter file, counted, told to ``on_evicted``."""
        self.discard(store, rows, reason, drop_reason="spool_evicted")
        self._telemetry.add("events_evicted", len(rows))

    def discard(self, store: Store, rows: Sequence[Row], reason: str, *, drop_reason: str | None) -> None:
        """Kept events that will never be sent (``reason``): dead-lettered, deleted, counted as dropped under
        ``drop_reason`` (None: counted already), and told to ``on_evicted``."""
        for (group, stream), events in by_destination(rows).items():
            self.dead_lettered(group, stream, events, reason)
            if drop_reason is not None:
                self._telemetry.drop(drop_reason, len(events), f" in {group}/{stream} ({reason}, kept in the spool)")
            if self._on_evicted is not None:
                self._on_evicted(group, stream, events, drop_reason or reason)
        self.delivered(store, [row.id for row in rows])

    def dead_lettered(self, group: str, stream: str, events: Sequence[Event], reason: str) -> int:
        """Write ``events`` to the dead-letter file; how many were written."""
        try:
            written = self.dead_letter.write(group, stream, events, reason)
        except OSError as error:
            self._telemetry.warn(
                f"dead-letter:{self.directory}",
                "could not write to the dead-letter file %s: %s",
                self.dead_letter.path,
                error,
            )
            return 0
        self._telemetry.add("events_dead_lettered", written)
        return written

    def forget(self, group: str, stream: str, events: Sequence[Event]) -> None:
        """``events`` were stored after all: remove them, where still kept, so no replay sends them again."""
        with self._lock:
            left = list(events)
            for store in self._stores():
                if not left:
                    return
                try:
                    if store.delete_matching(group, stream, left) == len(left):
                        return
                except (UnreadableSpool, SpoolUnavailable):
                    continue

    # -- replaying ----------------------------------------------------------------------------------

    def has_events(self) -> bool:
        """Whether this process holds events to send (its own file, or adopted ones)."""
        return any(store.events for store in self._stores())

    def waiting(self) -> bool:
        """Whether the directory holds a spool file that is not ours (a previous run's, another process's)."""
        own = self._own.path if self._own is not None else None
        return any(path != own and path not in self._adopted for path in spool_files(self.directory))

    def adopt(self, *, now: float | None = None) -> int:
        """Adopt the files of processes that are gone (at most one look per :data:`ADOPT_INTERVAL`); how many."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            if moment - self._last_look < ADOPT_INTERVAL:
                return 0
            self._last_look = moment
            own = self._own.path if self._own is not None else None
            adopted = 0
            for path in spool_files(self.directory):
                if path == own or path in self._adopted:
                    continue
                lock = Lock.take(path)
                if lock is None:
                    continue  # its process lives (or another one adopted it a moment ago)
                if not path.exists():  # drained and removed by its adopter just before we looked
                    lock.release()
                    continue
                try:
                    store = Store(path)
                except (UnreadableSpool, SpoolUnavailable) as error:
                    self._set_aside(path, lock, error)
                    continue
                if not store.events:
                    store.close()
                    remove(path, lock)
                    continue
                self._adopted[path] = (store, lock)
                adopted += 1
            if adopted and not self._deferred:
                self._bound()  # what it adopts counts toward its bound too
            return adopted

    def _set_aside(self, path: Path, lock: Lock, error: Exception) -> None:
        try:
            aside = set_aside(path)
        except OSError as failure:
            lock.release()
            self._telemetry.warn(
                f"spool:{path}", "the spool file %s cannot be read (%s) nor moved: %s", path, error, failure
            )
            return
        remove(path, lock)  # only the lock file is left to remove
        alerts.warn("the spool file %s cannot be read (%s): set aside as %s, not replayed", path, error, aside.name)

    def _busy(self, store: Store) -> frozenset[int]:
        return frozenset(self._sending.get(store.path, ()))

    def done(self, store: Store, rows: Sequence[Row], kept: Sequence[Row] = ()) -> None:
        """The replay has finished with ``rows`` (stored, given up or ``kept``): they may be evicted again.

        When their file was deleted meanwhile, the ``kept`` ones (not stored, not given up) are kept anew
        in this process's new file; only if the disk refuses them too are they counted as lost.
        """
        with self._lock:
            sending = self._sending.get(store.path)
            if sending is not None:
                sending.difference_update(row.id for row in rows)
            if store.path not in self._gone:
                return
            self._gone.discard(store.path)
            for (group, stream), events in by_destination(kept).items():
                if not self.keep(group, stream, events):
                    self._telemetry.drop(
                        "spool_evicted",
                        len(events),
                        f" in {group}/{stream} (their spool file {store.path} was deleted while they were replayed)",
                    )

    def chunk(self, max_events: int, max_bytes: int) -> tuple[Store, list[Row]] | None:
        """The oldest events of the file that holds the oldest one, or None when nothing is kept; they are
        the replay's until :meth:`done` (no eviction takes them meanwhile)."""
        with self._lock:
            stores = [store for store in self._stores() if store.events]
            while stores:
                store = min(stores, key=lambda s: s.oldest_ms or 0)
                try:
                    rows = store.oldest(max_events, max_bytes)
                except (UnreadableSpool, SpoolUnavailable) as error:
                    self._drop_store(store, error)
                    stores.remove(store)
                    continue
                if rows:
                    self._sending.setdefault(store.path, set()).update(row.id for row in rows)
                    return store, rows
                stores.remove(store)
            return None

    def _drop_store(self, store: Store, error: Exception) -> None:
        """A file that failed while read: set aside when unreadable; else leave it for another time."""
        if not isinstance(error, UnreadableSpool):
            self._telemetry.warn(f"spool-read:{store.path}", "could not read the spool file %s: %s", store.path, error)
            return
        if store is self._own:
            self._own_failed(error)
            return
        _, lock = self._adopted.pop(store.path)
        store.close()
        self._set_aside(store.path, lock, error)

    def delivered(self, store: Store, ids: Sequence[int]) -> None:
        """The events with ``ids`` are stored (or given up): delete them; an adopted file drained goes."""
        with self._lock:
            if store is not self._own and store.path not in self._adopted:
                return  # closed at shutdown meanwhile: what it still holds is sent at the next start
            try:
                store.delete(ids)
            except (UnreadableSpool, SpoolUnavailable) as error:
                self._drop_store(store, error)
                return
            if store.events == 0 and store.path in self._adopted:
                _, lock = self._adopted.pop(store.path)
                store.close()
                remove(store.path, lock)

    def expire(self, now_ms: int | None = None) -> None:
        """Events CloudWatch would refuse as older than 14 days: evicted, as ``too_old``."""
        cutoff = (now_ms if now_ms is not None else _now_ms()) - MAX_EVENT_AGE_MS
        with self._lock:
            for store in self._stores():
                if store.oldest_ms is None or store.oldest_ms >= cutoff:
                    continue
                try:
                    busy = self._busy(store)
                    rows = [row for row in store.older_than(cutoff) if row.id not in busy]
                except (UnreadableSpool, SpoolUnavailable) as error:
                    self._drop_store(store, error)
                    continue
                if rows:
                    self._evict(store, rows, "too_old")

    # -- state --------------------------------------------------------------------------------------

    def gauges(self) -> Mapping[str, float]:
        """The bytes held now, and the age of the oldest event held, in seconds (0 when empty)."""
        stores = self._stores()
        oldest = min((s.oldest_ms for s in stores if s.events and s.oldest_ms is not None), default=None)
        age = max(0.0, (_now_ms() - oldest) / 1000) if oldest is not None else 0.0
        return {"spool_bytes": sum(s.bytes for s in stores), "spool_oldest_age": age}

    def close(self) -> None:
        """At shutdown: our own file goes when empty, else stays for the next start; adopted files are let go."""
        with self._lock:
            self._closed = True
            own, lock = self._own, self._own_lock
            self._own = self._own_lock = None
            if own is not None:
                empty = own.events == 0
                own.close()
                if empty:
                    remove(own.path, lock)
                elif lock is not None:
                    lock.release()
            for path, (store, held) in list(self._adopted.items()):
                store.close()
                held.release()
                del self._adopted[path]


def by_destination(rows: Sequence[Row]) -> dict[tuple[str, str], list[Event]]:
    """The events of ``rows`` by log group and stream, in their order."""
    found: dict[tuple[str, str], list[Event]] = {}
    for row in rows:
        found.setdefault((row.group, row.stream), []).append(row.event)
    return found
