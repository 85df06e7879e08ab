"""The integrity fields of an event, as text: how a writer seals an event and how anyone checks it.

With integrity on, each message ends with one object, always last::

    ...,"integrity":{"v":1,"alg":"hmac-sha256","writer":"<16 hex>","seq":42,
                     ["open":{...},] ["dropped":[...],] ["close":{"last":41},] "prev":"<64 hex>","chain":"<64 hex>"}}

``chain`` is HMAC-SHA256 (keyed) or SHA-256 (no key) over the log group and stream (as the JSON array
``["group","stream"]``) followed by the message's UTF-8 bytes up to and including ``"chain":"``:
the event's own fields, the writer, the sequence number, any announcement, and ``prev``, the chain of
the writer's previous event in the stream (``""`` for the first). So each event can be checked alone
(a changed byte breaks its own chain) and against its predecessor (``prev``). Pure text work: sealing
and checking never re-serialize the event, so what is checked is exactly what CloudWatch stored.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

#: The key of the integrity object in the message.
FIELD = "integrity"
VERSION = 1
KEYED = "hmac-sha256"
UNKEYED = "sha256"
_CHAIN_MARK = '"chain":"'
_OPENING = ',"' + FIELD + '":{"v":'
_TAIL = re.compile(r'"chain":"([0-9a-f]{64})"\}\}\Z')
#: Bytes a sealed event may add to the encoded one at most (the encoder keeps this much room).
RESERVE = 4096
#: Announcement entries one event carries at most; more wait for the next events.
MAX_ANNOUNCED = 8
_MAX_TEXT = 128


class Mac:
    """HMAC-SHA256 with ``key`` (RFC 2104, its pads hashed once: twice as fast as ``hmac.digest`` per
    event), or plain SHA-256 without one."""

    def __init__(self, key: bytes | None) -> None:
        self.keyed = key is not None
        if key is None:
            self._inner = self._outer = hashlib.sha256()
            return
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def bound(self, group: str, stream: str) -> Mac:
        """This MAC over the destination first: a sealed event copied into another log group or stream
        does not verify there. Computed once per destination (the hash state is copied per event)."""
        bound = Mac.__new__(Mac)
        bound.keyed = self.keyed
        bound._outer = self._outer
        bound._inner = self._inner.copy()
        bound._inner.update(destination(group, stream))
        return bound

    def hex(self, body: str) -> str:
        """The chain value of ``body`` (the message up to and including ``"chain":"``)."""
        inner = self._inner.copy()
        inner.update(body.encode("utf-8", "surrogatepass"))
        if not self.keyed:
            return inner.hexdigest()
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


_BLOCK = 64  # SHA-256's block size, for HMAC's pads


def destination(group: str, stream: str) -> bytes:
    """What the chain covers before the text: the log group and stream, unambiguously (a JSON array)."""
    return json.dumps([group, stream]).encode("utf-8", "surrogatepass")


def mac(key: bytes | None, body: str, group: str, stream: str) -> str:
    """The chain value of ``body`` (the message up to and including ``"chain":"``) in ``group``/``stream``
    (the plain definition :class:`Mac` computes faster)."""
    data = destination(group, stream) + body.encode("utf-8", "surrogatepass")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.digest(key, data, "sha256").hex()


def _text(value: object) -> str:
    return json.dumps(str(value)[:_MAX_TEXT])


def opening(pid: int, host: str, service: str, started: str) -> str:
    """The ``open`` object of a writer's first event in a stream (ASCII JSON)."""
    return f'{{"pid":{int(pid)},"host":{_text(host)},"service":{_text(service)},"started":{_text(started)}}}'


def announcement(entries: Sequence[Mapping[str, Any]]) -> str:
    """The ``dropped`` list: ``{"reason", "from", "to"}`` for numbered events, ``{"reason", "count"}`` else."""
    return json.dumps(list(entries), separators=(",", ":"))


def seal(
    message: str,
    *,
    key: Mac,
    writer: str,
    seq: int,
    prev: str,
    open_: str | None = None,
    dropped: str | None = None,
    close_last: int | None = None,
) -> tuple[str, str]:
    """``message`` (a JSON object's text) with its integrity object appended, and its chain value.

    What is appended is ASCII, so the event grows by exactly ``len(sealed) - len(message)`` bytes.
    """
    signer = key  # bound to the event's destination (Mac.bound)
    alg = KEYED if signer.keyed else UNKEYED
    extra = ""
    if open_ is not None:
        extra += ',"open":' + open_
    if dropped is not None:
        extra += ',"dropped":' + dropped
    if close_last is not None:
        extra += f',"close":{{"last":{close_last}}}'
    head = f'{message[:-1]}{_OPENING}{VERSION},"alg":"{alg}","writer":"{writer}","seq":{seq}'
    body = f'{head}{extra},"prev":"{prev}",{_CHAIN_MARK}'
    chain = signer.hex(body)
    return f'{body}{chain}"}}}}', chain


def seal_run_escaped(
    messages: Sequence[str], escaped: Sequence[str], *, key: Mac, writer: str, first_seq: int, prev: str
) -> tuple[list[str], list[str], str]:
    """Seal consecutive messages that announce nothing (the common case, kept short): the sealed texts
    (the same :func:`seal` gives for each), each also as the inside of a JSON string (what a request body holds),
    built from the message's own (``escaped``, "" where there is none, then "" comes back) and the
    appended ASCII, whose quotes are escaped once here: no second pass over the whole message."""
    head = f'{_OPENING}{VERSION},"alg":"{KEYED if key.keyed else UNKEYED}","writer":"{writer}","seq":'
    escaped_head, escaped_mark = head.replace('"', '\\"'), _CHAIN_MARK.replace('"', '\\"')
    sign = key.hex
    sealed: list[str] = []
    sealed_escaped: list[str] = []
    append, append_escaped = sealed.append, sealed_escaped.append
    seq = first_seq
    for message, inside in zip_longest(messages, escaped[: len(messages)], fillvalue=""):
        body = f'{message[:-1]}{head}{seq},"prev":"{prev}",{_CHAIN_MARK}'
        chain = sign(body)
        append(f'{body}{chain}"}}}}')
        if inside:
            append_escaped(f'{inside[:-1]}{escaped_head}{seq},\\"prev\\":\\"{prev}\\",{escaped_mark}{chain}\\"}}}}')
        else:
            append_escaped("")
        prev = chain
        seq += 1
    return sealed, sealed_escaped, prev


@dataclass(frozen=True)
class Sealed:
    """What a stored message says about itself: its integrity fields and whether its chain checks."""

    writer: str
    seq: int
    alg: str
    prev: str
    chain: str
    body: str
    """The message up to and including ``"chain":"``: what the chain covers."""
    open: Mapping[str, Any] | None
    dropped: tuple[Mapping[str, Any], ...]
    close_last: int | None
    time: str = ""
    """The event's own ``timestamp`` field (ISO-8601), to list writers in the order they wrote."""

    @property
    def time_ms(self) -> int | None:
        """The sealed ``timestamp`` field in milliseconds (CloudWatch's timestamp must be this one)."""
        text = self.time
        if len(text) < 24 or text[10] != "T" or not text.endswith("Z"):
            return None
        try:
            seconds = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
            return seconds * 1000 + int(text[20:23])
        except ValueError:
            return None

    def verifies(self, signer: Mac) -> bool:
        """True when the chain is the one ``signer`` (bound to the event's destination) gives for this text."""
        if signer.keyed != (self.alg == KEYED):
            return False
        return hmac.compare_digest(signer.hex(self.body), self.chain)


def read(message: str) -> Sealed | None:
    """The integrity fields of ``message``; None when it has none (or they are malformed)."""
    start = message.rfind(_CHAIN_MARK)
    if start < 0:
        return None
    tail = _TAIL.match(message, start)
    if tail is None:
        return None
    try:
        document = json.loads(message)
    except ValueError:
        return None
    fields = document.get(FIELD) if isinstance(document, dict) else None
    if not isinstance(fields, dict) or fields.get("chain") != tail.group(1) or fields.get("v") != VERSION:
        return None
    writer, seq, alg, prev = fields.get("writer"), fields.get("seq"), fields.get("alg"), fields.get("prev")
    if not (isinstance(writer, str) and type(seq) is int and seq > 0 and isinstance(prev, str)):
        return None
    if alg not in (KEYED, UNKEYED):
        return None
    dropped = fields.get("dropped") or ()
    close = fields.get("close")
    close_last = close.get("last") if isinstance(close, dict) else None
    return Sealed(
        writer=writer,
        seq=seq,
        alg=alg,
        prev=prev,
        chain=tail.group(1),
        body=message[: start + len(_CHAIN_MARK)],
        open=fields.get("open") if isinstance(fields.get("open"), dict) else None,
        dropped=tuple(entry for entry in dropped if isinstance(entry, dict)) if isinstance(dropped, list) else (),
        close_last=close_last if type(close_last) is int else None,
        time=str(document.get("timestamp", "")),
    )


def announces(message: str) -> bool:
    """Whether a sealed message carries an ``open`` or ``dropped`` announcement (a cheap check)."""
    start = message.rfind(_OPENING)
    return start >= 0 and (message.find(',"dropped":', start) > 0 or message.find(',"open":', start) > 0)


def writer_of(message: str) -> str | None:
    """The writer id a sealed message carries (a cheap read)."""
    start = message.rfind(_OPENING)
    if start < 0:
        return None
    at = message.find('"writer":"', start)
    return message[at + 10 : at + 26] if at > 0 else None


def sequence_of(message: str) -> int | None:
    """The sequence number a sealed message carries (a cheap read for the writer's own events)."""
    start = message.rfind(_OPENING)
    if start < 0:
        return None
    at = message.find('"seq":', start)
    if at < 0:
        return None
    end = at + 6
    while end < len(message) and message[end].isdigit():
        end += 1
    digits = message[at + 6 : end]
    return int(digits) if digits else None
