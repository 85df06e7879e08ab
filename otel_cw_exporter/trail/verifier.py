"""Check a stored trail: per stream and writer, what is there, what is missing, what does not verify.

Pure: stored events in, a :class:`Report` out. Nothing here trusts an event whose chain does not
verify: its announcements, its ``close`` and its sequence number count for nothing but "broken".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_cw_exporter.trail.chain import KEYED, Mac, Sealed, read
from otel_cw_exporter.trail.writer import ranges


class KeyNeeded(ValueError):
    """The trail was written with a key and none was given: nothing could be checked."""


@dataclass
class WriterReport:
    """One writer in one stream."""

    stream: str
    writer: str
    events: int = 0
    """Distinct sequence numbers stored (a duplicate counts once)."""
    first: int = 0
    last: int = 0
    opened: Mapping[str, Any] | None = None
    closed: bool = False
    close_last: int | None = None
    missing: list[tuple[int, int]] = field(default_factory=list)
    """Sequence numbers neither stored nor announced as dropped: lost after they were written."""
    known_drops: list[dict[str, Any]] = field(default_factory=list)
    """What the writer said it dropped: ``{"reason", "from", "to"}`` or ``{"reason", "count"}``."""
    broken: list[int] = field(default_factory=list)
    """Sequence numbers whose text does not verify (changed, forged, or another key)."""
    broken_links: list[int] = field(default_factory=list)
    """Verified events whose ``prev`` is not their verified predecessor's chain."""
    duplicates: int = 0
    """Extra copies of an event, identical: at-least-once re-sends, harmless."""
    conflicts: list[int] = field(default_factory=list)
    """Sequence numbers stored with different texts."""
    before_window: bool = False
    """Events before the first one read were outside ``--since``: not counted as missing."""

    @property
    def intact(self) -> bool:
        return not (self.missing or self.broken or self.broken_links or self.conflicts)

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "writer": self.writer,
            "events": self.events,
            "first": self.first,
            "last": self.last,
            "opened": dict(self.opened) if self.opened else None,
            "closed": self.closed,
            "close_last": self.close_last,
            "missing": [list(run) for run in self.missing],
            "known_drops": self.known_drops,
            "broken": self.broken,
            "broken_links": self.broken_links,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "before_window": self.before_window,
            "intact": self.intact,
        }


@dataclass
class Report:
    """Every writer of every stream read, and the events that carry no integrity fields at all."""

    writers: list[WriterReport] = field(default_factory=list)
    unsigned: dict[str, int] = field(default_factory=dict)
    """Per stream, events without (valid) integrity fields: not written by an integrity writer."""
    events_read: int = 0

    def ok(self, *, strict: bool = False) -> bool:
        """Nothing missing, broken or conflicting (``strict``: nor dropped by the exporter, nor unclosed)."""
        if self.unsigned or not all(writer.intact for writer in self.writers):
            return False
        if strict:
            return all(writer.closed and not writer.known_drops for writer in self.writers)
        return True

    def as_json(self, *, strict: bool = False) -> dict[str, Any]:
        return {
            "ok": self.ok(strict=strict),
            "events_read": self.events_read,
            "writers": [writer.as_json() for writer in self.writers],
            "unsigned": self.unsigned,
        }


def verify(events: Iterable[tuple[str, str]], key: bytes | None, *, windowed: bool = False) -> Report:
    """Check ``(stream, message)`` pairs. ``windowed``: the read began after the trail did (``--since``).

    Raises :class:`KeyNeeded` when events were sealed with a key and ``key`` is None.
    """
    report = Report()
    # (stream, writer) -> seq -> text -> (its fields, copies stored)
    buckets: dict[tuple[str, str], dict[int, dict[str, list[Any]]]] = {}
    for stream, message in events:
        report.events_read += 1
        sealed = read(message)
        if sealed is None:
            report.unsigned[stream] = report.unsigned.get(stream, 0) + 1
            continue
        if key is None and sealed.alg == KEYED:
            raise KeyNeeded(f"events in {stream!r} were sealed with a key")
        texts = buckets.setdefault((stream, sealed.writer), {}).setdefault(sealed.seq, {})
        slot = texts.get(message)
        if slot is None:
            texts[message] = [sealed, 1]
        else:
            slot[1] += 1
    signer = Mac(key)
    for (stream, writer), by_seq in sorted(buckets.items(), key=_in_writing_order):
        report.writers.append(_check(stream, writer, by_seq, signer, windowed))
    return report


def _in_writing_order(item: tuple[tuple[str, str], dict[int, dict[str, list[Any]]]]) -> tuple[str, str, str]:
    """Per stream, writers by the time of their first event read, then by id."""
    (stream, writer), by_seq = item
    first = min(by_seq)
    return stream, min(sealed.time for sealed, _ in by_seq[first].values()), writer


def _check(stream: str, writer: str, by_seq: dict[int, dict[str, list[Any]]], key: Mac, windowed: bool) -> WriterReport:
    result = WriterReport(stream=stream, writer=writer)
    good: dict[int, Sealed] = {}
    for seq in sorted(by_seq):
        texts = by_seq[seq]
        result.duplicates += sum(copies - 1 for _, copies in texts.values())
        verified = [sealed for sealed, _ in texts.values() if sealed.verifies(key)]
        if len(texts) > 1:
            result.conflicts.append(seq)
        if len(verified) == 1:
            good[seq] = verified[0]
        elif not verified:
            result.broken.append(seq)
        # two different texts that both verify: only the key's holder wrote both; a conflict, said above
    present = set(by_seq)
    result.events = len(present)
    # Numbers only a text that does not verify claims (a forger's seq 10**9) say nothing of the range.
    trusted = good or by_seq
    result.first, result.last = min(trusted), max(trusted)
    announced: set[int] = set()
    for seq, sealed in sorted(good.items()):
        if sealed.open is not None and result.opened is None:  # said by seq 1, or again if it was lost
            result.opened = sealed.open
        if sealed.close_last is not None:
            result.closed, result.close_last = True, sealed.close_last
        for entry in sealed.dropped:
            if entry not in result.known_drops:  # said again when the event first saying it was lost
                result.known_drops.append(dict(entry))
            first, last = entry.get("from"), entry.get("to")
            if type(first) is int and type(last) is int and 0 < first <= last <= seq:
                announced.update(range(first, last + 1))
        before = good.get(seq - 1)
        if (seq == 1 and sealed.prev != "") or (before is not None and sealed.prev != before.chain):
            result.broken_links.append(seq)
    start = result.first if windowed and result.first > 1 else 1
    result.before_window = start > 1
    absent = (n for n in range(start, result.last + 1) if n not in present and n not in announced)
    result.missing = ranges(absent)
    return result
