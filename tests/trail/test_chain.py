"""The integrity fields as text: sealing, reading back, and what breaks a chain."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from otel_cw_exporter.trail.chain import KEYED, UNKEYED, Mac, mac, read, seal, sequence_of

KEY = b"0123456789abcdef0123456789abcdef"
SIGNER = Mac(KEY).bound("g", "s")
PLAIN = Mac(None).bound("g", "s")
json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def message_of(fields: dict[str, object]) -> str:
    return json.dumps({"timestamp": "2026-12-01T00:00:00.000000Z", **fields}, separators=(",", ":"))


@given(st.dictionaries(st.text(max_size=10), json_text, max_size=4), st.integers(1, 2**40), st.booleans())
def test_a_sealed_message_reads_back_and_verifies(fields: dict[str, object], seq: int, keyed: bool) -> None:
    signer = SIGNER if keyed else PLAIN
    message, chain = seal(message_of(fields), key=signer, writer="ab" * 8, seq=seq, prev="c" * 64)
    document = json.loads(message)  # still one valid JSON object, the event's fields first and unchanged
    assert {k: v for k, v in document.items() if k != "integrity"} == json.loads(message_of(fields))
    assert list(document)[-1] == "integrity"
    sealed = read(message)
    assert sealed is not None
    assert (sealed.writer, sealed.seq, sealed.prev, sealed.chain) == ("ab" * 8, seq, "c" * 64, chain)
    assert sealed.alg == (KEYED if keyed else UNKEYED)
    assert sealed.verifies(signer)
    assert chain == mac(KEY if keyed else None, sealed.body, "g", "s")  # the plain definition
    assert sequence_of(message) == seq


@given(st.data())
def test_any_changed_byte_breaks_the_chain(data: st.DataObject) -> None:
    message, _ = seal(message_of({"extra": {"user_email": "a@b.c"}}), key=SIGNER, writer="w" * 16, seq=3, prev="")
    at = data.draw(st.integers(0, len(message) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != message[at]))
    changed = message[:at] + replacement + message[at + 1 :]
    sealed = read(changed)
    assert sealed is None or not sealed.verifies(SIGNER)


def test_another_key_no_key_or_another_destination_does_not_verify() -> None:
    message, _ = seal(message_of({}), key=SIGNER, writer="w", seq=1, prev="")
    sealed = read(message)
    assert sealed is not None and sealed.verifies(SIGNER)
    assert not sealed.verifies(Mac(b"another key, just as long as it!").bound("g", "s"))
    assert not sealed.verifies(PLAIN)  # a keyed event is never accepted as a plain SHA-256 one
    assert not sealed.verifies(Mac(KEY).bound("g", "other"))  # copied into another stream
    assert not sealed.verifies(Mac(KEY).bound("other", "s"))  # or another log group
    unkeyed, _ = seal(message_of({}), key=PLAIN, writer="w", seq=1, prev="")
    plain = read(unkeyed)
    assert plain is not None and plain.verifies(PLAIN) and not plain.verifies(SIGNER)


def test_the_sealed_time_reads_back_in_milliseconds() -> None:
    message, _ = seal('{"timestamp":"2026-12-01T09:15:02.123456Z"}', key=SIGNER, writer="w", seq=1, prev="")
    sealed = read(message)
    assert sealed is not None and sealed.time_ms == 1796116502123


def test_a_chain_key_in_the_application_fields_does_not_confuse_the_reader() -> None:
    fields = {"extra": {"chain": "0" * 64, "integrity": {"seq": 99}}}
    message, _ = seal(message_of(fields), key=SIGNER, writer="w", seq=7, prev="")
    sealed = read(message)
    assert sealed is not None and sealed.seq == 7 and sealed.verifies(SIGNER)


def test_messages_without_integrity_fields_read_as_none() -> None:
    for text in ("", "{}", message_of({"integrity": {"chain": "x"}}), "not json", '{"chain":"' + "0" * 64 + '"}}'):
        assert read(text) is None
