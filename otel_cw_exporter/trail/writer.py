"""One exporter instance as a *writer* of the integrity trail: it numbers, chains and announces.

Each (log group, stream) the writer writes to has its own sequence 1, 2, 3... assigned once, when the
event is encoded: a retry or a replay sends the same text again. Events the exporter itself gives up on
are announced, in the chain, by the writer's next event in that stream (or its closing event), so a
verifier can tell a drop the exporter said from an event that went missing after it was written. No I/O:
the exporter sends what this returns. A forked child becomes a new writer (:meth:`Writer.renew`).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.encode.jsonsafe import escape_json_text
from otel_cw_exporter.limits import EVENT_OVERHEAD
from otel_cw_exporter.trail.chain import (
    MAX_ANNOUNCED,
    Mac,
    announcement,
    announces,
    opening,
    read,
    seal,
    seal_run_escaped,
    sequence_of,
    writer_of,
)

Destination = tuple[str, str]
#: Entries a closing event carries at most (about 60 bytes each: well within an event's 1 MB).
MAX_CLOSING = 10_000


def ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, distinct ``numbers`` as inclusive ``(first, last)`` runs: 1,2,3,7 -> (1,3),(7,7)."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


@dataclass
class _Stream:
    mac: Mac
    seq: int = 0
    chain: str = ""
    pending: list[dict[str, Any]] = field(default_factory=list)
    reopen: bool = False  # the event that said the writer opened was lost: the next one says it again
    resource: Mapping[str, Any] = field(default_factory=dict)


def _resized(event: Event, message: str) -> Event:
    """``event`` with its sealed text: what sealing appends is ASCII, so the size grows by its length.

    The request body's escaped form too, when the event had one: the old one less its closing brace, then
    the appended part's (compact JSON, so only quotes and backslashes need escaping), instead of escaping
    the whole message again when the body is written.
    """
    escaped = event.escaped
    if escaped:
        escaped = escaped[:-1] + escape_json_text(message[len(event.message) - 1 :])
    if event.size:
        size = event.size + len(message) - len(event.message)
        return Event(event.timestamp, message, size, event.truncated, escaped)
    return Event(event.timestamp, message, len(message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD, False)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Writer:
    """Numbers and chains the events of one exporter, per destination; thread-safe."""

    def __init__(self, key: bytes | None) -> None:
        self._key = Mac(key)
        self._lock = threading.Lock()
        self.renew()

    def renew(self) -> None:
        """A new writer: new id, new start, every stream from 1 again (a forked child calls this)."""
        self._lock = threading.Lock()
        self.id = secrets.token_hex(8)
        self.started = _iso(time.time())
        self._pid = os.getpid()
        self._streams: dict[Destination, _Stream] = {}
        self._unplaced: dict[str, int] = {}  # drops of no known stream, said by the next event anywhere

    @property
    def destinations(self) -> list[Destination]:
        with self._lock:
            return list(self._streams)

    def stamp(self, destination: Destination, events: Sequence[Event], resource: Mapping[str, Any]) -> list[Event]:
        """``events`` (in the order written) sealed with the next sequence numbers of ``destination``."""
        if not events:
            return []
        with self._lock:
            state = self._streams.get(destination)
            if state is None:
                state = self._streams[destination] = self._new_stream(destination, resource)
            sealed: list[Event] = []
            rest = events
            while rest and (state.seq == 0 or state.reopen or state.pending or self._unplaced):
                sealed.append(self._seal(state, rest[0], resource))  # this one announces something
                rest = rest[1:]
            if rest:
                texts, escaped, state.chain = seal_run_escaped(
                    [event.message for event in rest],
                    [event.escaped for event in rest],
                    key=state.mac,
                    writer=self.id,
                    first_seq=state.seq + 1,
                    prev=state.chain,
                )
                state.seq += len(rest)
                make = Event
                sealed += [
                    make(event.timestamp, text, event.size + len(text) - len(event.message), event.truncated, inside)
                    if event.size
                    else _resized(event, text)
                    for event, text, inside in zip(rest, texts, escaped, strict=True)
                ]
            return sealed

    def _new_stream(self, destination: Destination, resource: Mapping[str, Any]) -> _Stream:
        return _Stream(mac=self._key.bound(*destination), resource=dict(resource))

    def close(self, destination: Destination, timestamp_ms: int, message: str) -> Event | None:
        """The closing event of ``destination`` (``message``: an encoded event saying so); None if unused."""
        with self._lock:
            state = self._streams.get(destination)
            if state is None:
                return None
            last = state.seq
            return self._seal(state, Event(timestamp_ms, message, 0, False), state.resource, close_last=last)

    def _seal(self, state: _Stream, event: Event, resource: Mapping[str, Any], close_last: int | None = None) -> Event:
        state.seq += 1
        open_ = None
        if state.seq == 1 or state.reopen:
            state.reopen = False
            open_ = opening(
                self._pid,
                str(resource.get("host.name") or socket.gethostname()),
                str(resource.get("service.name") or ""),
                self.started,
            )
        dropped = None
        if state.pending or self._unplaced:
            # A closing event says all that is left: no event of this writer comes after it.
            most = MAX_CLOSING if close_last is not None else MAX_ANNOUNCED
            entries = state.pending[:most]
            del state.pending[:most]
            while self._unplaced and len(entries) < most:
                reason, count = self._unplaced.popitem()
                entries.append({"reason": reason, "count": count})
            dropped = announcement(entries)
        message, state.chain = seal(
            event.message,
            key=state.mac,
            writer=self.id,
            seq=state.seq,
            prev=state.chain,
            open_=open_,
            dropped=dropped,
            close_last=close_last,
        )
        return _resized(event, message)

    def lost(self, destination: Destination, events: Sequence[Event], reason: str) -> None:
        """Announce, in ``destination``'s next event, that these sealed events will not be stored.

        Events of another writer (a spool adopted from a process that ended, a parent's before a fork)
        are announced with that writer's id, for the verifier to apply to that writer.
        """
        mine: list[int] = []
        theirs: dict[str, list[int]] = {}
        carried: list[dict[str, Any]] = []  # what the lost events themselves announced must be said again
        reopen = False
        for event in events:
            message = event.message
            seq = sequence_of(message)
            if seq is None:
                continue
            if writer_of(message) == self.id:
                mine.append(seq)
                if announces(message):
                    sealed = read(message)
                    if sealed is not None:
                        carried.extend(dict(entry) for entry in sealed.dropped)
                        reopen = reopen or sealed.open is not None
                continue
            sealed = read(message)
            if sealed is not None:
                theirs.setdefault(sealed.writer, []).append(seq)
                carried.extend(dict(entry, writer=sealed.writer) for entry in sealed.dropped if "writer" not in entry)
        if not (mine or theirs):
            return
        with self._lock:
            state = self._streams.get(destination)
            if state is None:
                if mine:
                    return  # our own numbers in a stream we have no state for: never expected
                state = self._streams[destination] = self._new_stream(destination, {})  # said by our close
            state.pending.extend(carried)
            state.pending.extend({"reason": reason, "from": a, "to": b} for a, b in ranges(mine))
            for other, numbers in theirs.items():
                state.pending.extend(
                    {"reason": reason, "writer": other, "from": a, "to": b} for a, b in ranges(numbers)
                )
            state.reopen = state.reopen or reopen or 1 in mine

    def lost_unnumbered(self, destination: Destination | None, count: int, reason: str) -> None:
        """Announce ``count`` records dropped before they were numbered (in ``destination``, if known)."""
        if count <= 0:
            return
        with self._lock:
            state = self._streams.get(destination) if destination is not None else None
            if state is None:
                self._unplaced[reason] = self._unplaced.get(reason, 0) + count
            else:
                state.pending.append({"reason": reason, "count": count})
