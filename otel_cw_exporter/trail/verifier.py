"""Check a stored trail: per stream and writer, what is there, what is missing, what does not verify.

Pure: stored events in, a :class:`Report` out. Nothing here trusts an event whose chain does not
verify: its announcements, its ``close`` and its sequence number count for nothing but "broken".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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
    alg: str = ""
    """How its events were sealed: ``hmac-sha256`` (keyed) or ``sha256`` (unkeyed: proves no authorship)."""

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
            "alg": self.alg,
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
        """Something was read, and nothing missing, broken or conflicting (``strict``: nor dropped by the
        exporter, nor unclosed, nor sealed without a key)."""
        if not self.events_read or self.unsigned or not all(writer.intact for writer in self.writers):
            return False
        if strict:
            return all(writer.closed and not writer.known_drops and writer.alg == KEYED for writer in self.writers)
        return True

    def as_json(self, *, strict: bool = False) -> dict[str, Any]:
        return {
            "ok": self.ok(strict=strict),
            "events_read": self.events_read,
            "writers": [writer.as_json() for writer in self.writers],
            "unsigned": self.unsigned,
        }


#: What :func:`verify` reads: ``(stream, message)``, or ``(stream, message, CloudWatch timestamp in ms)``.
Stored = tuple[str, str] | tuple[str, str, int]


def verify(events: Iterable[Stored], key: bytes | None, *, group: str, windowed: bool = False) -> Report:
    """Check the stored events of log group ``group``. ``windowed``: the read began after the trail did
    (``--since``). A stored timestamp, when given, must be the one the event was sealed with.

    Raises :class:`KeyNeeded` when events were sealed with a key and ``key`` is None.
    """
    report = Report()
    signer = Mac(key)
    signers: dict[str, Mac] = {}
    # (stream, writer) -> seq -> (digest of the message, timestamp) -> [its fields, copies, verifies]:
    # each text is checked as it is read and only its fields kept (not the text): a long trail fits.
    buckets: dict[tuple[str, str], dict[int, dict[tuple[bytes, int | None], list[Any]]]] = {}
    for stored in events:
        stream, message = stored[0], stored[1]
        timestamp = stored[2] if len(stored) > 2 else None
        report.events_read += 1
        sealed = read(message)
        if sealed is None:
            report.unsigned[stream] = report.unsigned.get(stream, 0) + 1
            continue
        if key is None and sealed.alg == KEYED:
            raise KeyNeeded(f"events in {stream!r} were sealed with a key")
        texts = buckets.setdefault((stream, sealed.writer), {}).setdefault(sealed.seq, {})
        slot = texts.get(identity := (hashlib.sha256(message.encode("utf-8", "surrogatepass")).digest(), timestamp))
        if slot is not None:
            slot[1] += 1
            continue
        bound = signers.get(stream)
        if bound is None:
            bound = signers[stream] = signer.bound(group, stream)
        # moved in time (CloudWatch's timestamp is not the sealed one): does not verify
        verifies = sealed.verifies(bound) and (timestamp is None or timestamp == sealed.time_ms)
        texts[identity] = [replace(sealed, body=""), 1, verifies]
    checked = {where: _verified(by_seq) for where, by_seq in buckets.items()}
    # What a writer announced of another's events (a spool adopted from a process that ended).
    foreign: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (stream, announcer), (good, _) in checked.items():
        for sealed in good.values():
            for entry in sealed.dropped:
                other = entry.get("writer")
                if isinstance(other, str) and other != announcer:
                    said = dict(entry, by=announcer)
                    del said["writer"]
                    foreign.setdefault((stream, other), []).append(said)
    for where in foreign:
        checked.setdefault(where, ({}, []))
    for where in sorted(checked, key=lambda where: _writing_order(where, buckets.get(where, {}))):
        good, broken = checked[where]
        by_seq = buckets.get(where, {})
        report.writers.append(_report(where, by_seq, good, broken, foreign.get(where, []), windowed))
    return report


def _writing_order(
    where: tuple[str, str], by_seq: dict[int, dict[tuple[bytes, int | None], list[Any]]]
) -> tuple[str, str, str]:
    """Per stream, writers by the time of their first event read, then by id."""
    stream, writer = where
    if not by_seq:
        return stream, "", writer
    first = min(by_seq)
    return stream, min(sealed.time for sealed, *_ in by_seq[first].values()), writer


def _verified(by_seq: dict[int, dict[tuple[bytes, int | None], list[Any]]]) -> tuple[dict[int, Sealed], list[int]]:
    """The events whose text verifies (one per number), and the numbers no stored text verifies for."""
    good: dict[int, Sealed] = {}
    broken: list[int] = []
    for seq in sorted(by_seq):
        verified = {digest: sealed for (digest, _), (sealed, _, verifies) in by_seq[seq].items() if verifies}
        if len(verified) == 1:
            good[seq] = next(iter(verified.values()))
        elif not verified:
            broken.append(seq)
        # two different texts that both verify: only the key's holder wrote both; a conflict
    return good, broken


def _report(  # noqa: PLR0917 - one call site, each argument a different piece of the check
    where: tuple[str, str],
    by_seq: dict[int, dict[tuple[bytes, int | None], list[Any]]],
    good: dict[int, Sealed],
    broken: list[int],
    foreign: list[dict[str, Any]],
    windowed: bool,
) -> WriterReport:
    stream, writer = where
    result = WriterReport(stream=stream, writer=writer, broken=broken)
    for seq in sorted(by_seq):
        texts = by_seq[seq]
        result.duplicates += sum(copies - 1 for _, copies, _ in texts.values())
        if len(texts) > 1:
            result.conflicts.append(seq)
    present = set(by_seq)
    result.events = len(present)
    algs = {sealed.alg for sealed in good.values()}
    result.alg = algs.pop() if len(algs) == 1 else ("mixed" if algs else "")
    announced: set[int] = set()
    for seq, sealed in sorted(good.items()):
        if sealed.open is not None and result.opened is None:  # said by seq 1, or again if it was lost
            result.opened = sealed.open
        if sealed.close_last is not None:
            result.closed, result.close_last = True, sealed.close_last
        for entry in sealed.dropped:
            if "writer" in entry and entry["writer"] != writer:
                continue  # another writer's events: counted for that writer
            said = {k: v for k, v in entry.items() if k != "writer"}
            if said not in result.known_drops:  # said again when the event first saying it was lost
                result.known_drops.append(said)
            first, last = said.get("from"), said.get("to")
            if type(first) is int and type(last) is int and 0 < first <= last <= seq:
                announced.update(range(first, last + 1))
        before = good.get(seq - 1)
        if (seq == 1 and sealed.prev != "") or (before is not None and sealed.prev != before.chain):
            result.broken_links.append(seq)
    for entry in foreign:
        if entry not in result.known_drops:
            result.known_drops.append(entry)
        first, last = entry.get("from"), entry.get("to")
        if type(first) is int and type(last) is int and 0 < first <= last:
            announced.update(range(first, last + 1))
    # Numbers only a text that does not verify claims (a forger's seq 10**9) say nothing of the range.
    trusted = set(good) or present
    if not trusted:  # known only from another writer's announcements: every event of it was dropped
        result.first, result.last = min(announced, default=0), max(announced, default=0)
        return result
    result.first, result.last = min(trusted), max(trusted)
    start = result.first if windowed and result.first > 1 else 1
    result.before_window = start > 1
    absent = (n for n in range(start, result.last + 1) if n not in present and n not in announced)
    result.missing = ranges(absent)
    return result
