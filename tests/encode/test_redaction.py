"""Redactor: secret keys at any depth, raw tokens anywhere, the same object back when nothing changes."""

from __future__ import annotations

import base64
import json
import re
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_cw_exporter.encode.redaction import DEFAULT_MASK, DEFAULT_SECRET_KEYS, Redactor, normalise_key
from tests.support import make_record

M = DEFAULT_MASK
TOKEN = jwt.encode({"user_email": "jdoe@example.com", "exp": 4102444800}, "s" * 32, algorithm="HS256")


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


# -- secret keys -------------------------------------------------------------------------------------------


def test_secret_keys_at_any_depth_and_in_lists(redactor: Redactor) -> None:
    value = {
        "user_email": "jdoe@example.com",
        "headers": {"authorization": "x", "user-agent": "pytest", "cookie": "a=b"},
        "nested": {"deeper": {"deepest": {"password": "hunter2", "api_key": "k", "kept": 1}}},
        "items": [{"token": "t"}, ({"secret": "s"}, "plain"), 3],
    }
    assert redactor.redact(value) == {
        "user_email": "jdoe@example.com",
        "headers": {"authorization": M, "user-agent": "pytest", "cookie": M},
        "nested": {"deeper": {"deepest": {"password": M, "api_key": M, "kept": 1}}},
        "items": [{"token": M}, ({"secret": M}, "plain"), 3],
    }


@pytest.mark.parametrize(
    "key",
    [
        "Password",
        "PASSWORD",
        "db_password",
        "db-password",
        "X-Api-Key",
        "x.api.key",
        "API KEY",
        "apiKey",
        "Set-Cookie",
        "http.request.header.authorization",
        "Proxy-Authorization",
        "client secret",
        "AWS_SECRET_ACCESS_KEY",
        "aws_access_key_id",
        "refreshToken",
        "x-amz-security-token",
        "sessionid",
        "JWT",
        "ssh_private_key",
        "credentials",
        "passphrase",
        "passwd",
        b"password",
    ],
)
def test_secret_key_spellings(redactor: Redactor, key: str | bytes) -> None:
    assert redactor.is_secret(key)
    assert redactor.redact({key: "value"}) == {key: M}


@pytest.mark.parametrize(
    "key", ["user_email", "log_type", "user-agent", "author", "group_name", "resource_id", "operation", "environment"]
)
def test_innocent_keys_are_kept(redactor: Redactor, key: str) -> None:
    assert not redactor.is_secret(key)
    value = {key: "value"}
    assert redactor.redact(value) is value


@pytest.mark.parametrize("key", [1, None, 2.5, ("password",), frozenset({"token"})])
def test_non_string_keys_are_never_secret(redactor: Redactor, key: Any) -> None:
    assert not redactor.is_secret(key)
    value = {key: "v", "password": "p"}
    assert redactor.redact(value) == {key: "v", "password": M}


@pytest.mark.parametrize("secret", [{"nested": "dict"}, ["a", "list"], 1234, None, b"bytes", 1.5, object()])
def test_the_value_under_a_secret_key_is_masked_whatever_its_type(redactor: Redactor, secret: Any) -> None:
    assert redactor.redact({"credentials": secret}) == {"credentials": M}


def test_custom_keys_and_mask() -> None:
    redactor = Redactor(keys=["ssn", "Card-Number"], mask="***")
    assert redactor.keys == ("ssn", "card_number")
    assert redactor.redact({"SSN": 1, "card number": 2, "password": 3}) == {
        "SSN": "***",
        "card number": "***",
        "password": 3,
    }
    assert Redactor(keys="pin").redact({"PIN": 1, "p": 2}) == {"PIN": M, "p": 2}  # one name, not its letters


def test_mask_is_inserted_literally_even_with_regex_escapes() -> None:
    redactor = Redactor(mask=r"\g<0>\1\\")
    assert redactor.redact(f"a {TOKEN} b") == r"a \g<0>\1\\ b"
    assert redactor.redact({"token": 1}) == {"token": r"\g<0>\1\\"}


def test_normalise_key() -> None:
    assert normalise_key("X-Api.Key Name") == "x_api_key_name"
    assert all(normalise_key(key) == key.replace("-", "_") for key in DEFAULT_SECRET_KEYS)


# -- tokens in strings ----------------------------------------------------------------------------------------


def test_jwt_inside_messages_and_under_innocent_keys(redactor: Redactor) -> None:
    value = {
        "message": f"login with {TOKEN} ok",
        "query": f"/callback?id_token={TOKEN}&state=1",
        "list": [f"{TOKEN}", "plain"],
        "tuple": (f"<{TOKEN}>",),
    }
    assert redactor.redact(value) == {
        "message": f"login with {M} ok",
        "query": f"/callback?id_token={M}&state=1",
        "list": [M, "plain"],
        "tuple": (f"<{M}>",),
    }
    assert redactor.redact(f"login with {TOKEN}") == f"login with {M}"


def test_unsigned_jwe_and_padded_tokens(redactor: Redactor) -> None:
    unsigned = TOKEN.rsplit(".", 1)[0] + "."
    jwe = (
        "eyJhbGciOiJSU0EtT0FFUCJ9.OKOawDo13gRp2o.48V1_ALb6US04U3b."
        "5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ"
    )
    padded = TOKEN + "=="
    for token in (unsigned, jwe, padded):
        assert redactor.redact(f"t={token};") == f"t={M};"


def test_bytes_and_str_subclasses_are_scrubbed(redactor: Redactor) -> None:
    class Text(str):
        pass

    assert redactor.redact(f"raw {TOKEN}".encode()) == f"raw {M}".encode()
    assert redactor.redact(bytearray(f"raw {TOKEN}".encode())) == bytearray(f"raw {M}".encode())
    assert redactor.redact(Text(f"raw {TOKEN}")) == f"raw {M}"
    plain_bytes, plain_text = b"\xff\x00 nothing", Text("nothing")
    assert redactor.redact(plain_bytes) is plain_bytes
    assert redactor.redact(plain_text) is plain_text
    binary = b"\xff\xfe eyJ" + TOKEN.encode()[3:] + b" \x80"
    assert redactor.redact(binary) == b"\xff\xfe " + M.encode() + b" \x80"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer abc123def456", f"Bearer {M}"),
        ("bearer opaque", f"bearer {M}"),  # a whole header value, however short
        ("  BEARER xyz  ", f"  BEARER {M}  "),
        ("Authorization: Bearer sk_live_0123456789abcdef", f"Authorization: Bearer {M}"),
        ("retrying with Bearer Zm9vYmFyYmF6cXV4 now", f"retrying with Bearer {M} now"),
        (f"Bearer {TOKEN}", f"Bearer {M}"),
        ("Basic dXNlcjpwYXNz", f"Basic {M}"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA== sent", f"Authorization: Basic {M} sent"),
        ("basic anything", f"basic {M}"),
        # prose keeps its words
        ("the bearer of bad news", "the bearer of bad news"),
        ("a bearer instrument is payable", "a bearer instrument is payable"),
        ("a basic idea, Basic Auth and basic setup", "a basic idea, Basic Auth and basic setup"),
        ("classic music", "classic music"),
    ],
)
def test_bearer_and_basic_credentials(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected
    assert redactor.scrub(text) == expected


def test_keys_are_not_rewritten(redactor: Redactor) -> None:
    assert list(redactor.redact({"note": f"x {TOKEN}"})) == ["note"]


# -- fast path ---------------------------------------------------------------------------------------------------


class Custom:
    def __init__(self) -> None:
        self.password = "hunter2"

    def __str__(self) -> str:
        return "custom"


@pytest.mark.parametrize(
    "value",
    [
        "a plain message",
        "",
        42,
        3.5,
        True,
        None,
        b"bytes",
        {},
        [],
        (),
        {"user_email": "jdoe@example.com", "log_type": "Security", "n": 1, "ok": True, "none": None},
        {"a": {"b": [1, "two", {"c": (3, "four")}]}, "headers": {"user-agent": "pytest"}},
        [1, "two", [3, ["four"]]],
        ("a", ("b", ("c",))),
        {"x", "y"},
        frozenset({1, "z"}),
        OrderedDict(a=1),
        MappingProxyType({"a": "b"}),
        Custom(),
        {"custom": Custom()},
        {"already": {"password": M}},
    ],
)
def test_nothing_to_change_returns_the_very_same_object(redactor: Redactor, value: Any) -> None:
    assert redactor.redact(value) is value


def test_a_change_copies_only_the_path_to_it_and_never_mutates_the_input(redactor: Redactor) -> None:
    untouched = {"big": list(range(100))}
    value = {"keep": untouched, "path": {"to": [{"password": "p"}, "fine"]}, "n": 1}
    snapshot = json.dumps(value)
    result = redactor.redact(value)
    assert result is not value
    assert result["keep"] is untouched
    assert result["path"]["to"][0] == {"password": M}
    assert json.dumps(value) == snapshot


def test_mappings_and_sets_of_other_types(redactor: Redactor) -> None:
    proxy = MappingProxyType({"token": "t", "a": 1})
    assert redactor.redact(proxy) == {"token": M, "a": 1}
    assert redactor.redact({f"x {TOKEN}"}) == {f"x {M}"}
    assert redactor.redact(frozenset({f"x {TOKEN}"})) == frozenset({f"x {M}"})


def test_idempotent(redactor: Redactor) -> None:
    value = {"password": "p", "m": f"Bearer {TOKEN}", "h": "Basic dXNlcjpwYXNz"}
    once = redactor.redact(value)
    assert redactor.redact(once) is once


def test_disabled_and_partial_modes() -> None:
    value = {"password": "p", "m": f"x {TOKEN}"}
    assert Redactor.disabled().redact(value) is value
    assert Redactor(keys=()).redact(value) == {"password": "p", "m": f"x {M}"}
    assert Redactor(scrub_tokens=False).redact(value) == {"password": M, "m": f"x {TOKEN}"}
    assert Redactor(scrub_tokens=False).redact(f"x {TOKEN}") == f"x {TOKEN}"


def test_callable_like_the_encoder_hook(redactor: Redactor) -> None:
    assert redactor({"password": 1}) == {"password": M}


# -- odd input never raises ------------------------------------------------------------------------------------


def test_cycles_are_cut_with_the_mask(redactor: Redactor) -> None:
    loop: dict[str, Any] = {"name": "x"}
    loop["self"] = loop
    assert redactor.redact(loop) == {"name": "x", "self": M}
    items: list[Any] = ["a"]
    items.append(items)
    assert redactor.redact(items) == ["a", M]
    a: dict[str, Any] = {}
    b: dict[str, Any] = {"a": a}
    a["b"] = b
    assert redactor.redact(a) == {"b": {"a": M}}


@pytest.mark.timeout(10)
def test_shared_containers_are_walked_once_and_not_mistaken_for_cycles(redactor: Redactor) -> None:
    shared = {"password": "p"}
    result = redactor.redact({"one": shared, "two": [shared]})
    assert result == {"one": {"password": M}, "two": [{"password": M}]}
    dag: Any = {"password": "p"}
    for _ in range(200):  # 2**200 paths: only memoisation makes this finish
        dag = [dag, dag]
    started = time.perf_counter()
    redacted = redactor.redact(dag)
    assert time.perf_counter() - started < 2
    assert isinstance(redacted, list)


def test_deep_nesting_is_cut_at_max_depth() -> None:
    redactor = Redactor(max_depth=32)
    deep: Any = {"password": "p"}
    for _ in range(10_000):
        deep = {"d": deep}
    result = redactor.redact(deep)
    for _ in range(32):
        result = result["d"]
    assert result == M
    shallow: Any = {"password": "p"}
    for _ in range(30):
        shallow = [shallow]
    result = redactor.redact(shallow)
    for _ in range(30):
        result = result[0]
    assert result == {"password": M}


class ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no")

    def __len__(self) -> int:
        return 1


class BadKey:
    def __hash__(self) -> int:
        return 1

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparisons")

    def __str__(self) -> str:
        raise RuntimeError("no str")


def test_hostile_values_never_raise(redactor: Redactor) -> None:
    assert redactor.redact({"m": ExplodingMapping(), "ok": 1}) == {"m": M, "ok": 1}
    assert redactor.redact(ExplodingMapping()) == M
    odd = {BadKey(): "v"}
    assert redactor.redact(odd) is odd
    view = memoryview(b"eyJ")
    assert redactor.redact(view) is view  # objects it does not know are left as they are


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keys": [""]}, "non-empty"),
        ({"keys": ["-"]}, "non-empty"),
        ({"keys": [1]}, "non-empty"),
        ({"mask": None}, "mask"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": True}, "max_depth"),
    ],
)
def test_construction_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Redactor(**options)


# -- properties --------------------------------------------------------------------------------------------------

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
segment = st.text(alphabet=B64URL, min_size=1, max_size=40)
jwts = st.builds(lambda h, p, s: f"eyJ{h}.{p}.{s}", segment, segment, segment) | st.builds(
    lambda claims: jwt.encode(claims, "k" * 32, algorithm="HS256"),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=3),
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_like = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=12) | st.sampled_from(["password", "Token", "user_email"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


def plant(value: Any, token: str, path: list[int]) -> Any:
    """``value`` with ``token`` written into some string (or as a new string) along ``path``."""
    if isinstance(value, str):
        cut = path[0] % (len(value) + 1) if path else 0
        return value[:cut] + token + value[cut:]
    if isinstance(value, list) and value:
        index = path[0] % len(value) if path else 0
        copy = list(value)
        copy[index] = plant(copy[index], token, path[1:])
        return copy
    if isinstance(value, dict) and value:
        key = sorted(value, key=str)[path[0] % len(value) if path else 0]
        return {**value, key: plant(value[key], token, path[1:])}
    return [value, f"text {token} text"]


@settings(max_examples=300, deadline=None)
@given(value=json_like, token=jwts, path=st.lists(st.integers(min_value=0, max_value=50), max_size=6))
def test_a_planted_jwt_never_leaves(value: Any, token: str, path: list[int]) -> None:
    planted = plant(value, token, path)
    assert token in json.dumps(planted)
    result = Redactor().redact(planted)
    assert token not in json.dumps(result)
    assert token not in json.dumps(Redactor(keys=()).redact(planted))


@settings(max_examples=300, deadline=None)
@given(
    value=st.recursive(
        json_scalars | st.binary(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.tuples(children, children)
            | st.dictionaries(
                st.text(max_size=12) | st.integers() | st.none() | st.binary(max_size=5), children, max_size=4
            )
        ),
        max_leaves=30,
    )
)
def test_never_raises_is_idempotent_and_copies_only_when_needed(value: Any) -> None:
    redactor = Redactor()
    once = redactor.redact(value)
    assert redactor.redact(once) is once
    if not needs_change(redactor, value):
        assert once is value


def hinted(text: str) -> bool:
    """Whether a string might hold a token or a ``name=value`` secret (an over-approximation)."""
    lowered = text.lower()
    return "eyj" in lowered or "bearer" in lowered or "basic" in lowered or "=" in text or ":" in text


def needs_change(redactor: Redactor, value: Any) -> bool:
    """Whether ``value`` has a secret key, a secret header pair or a string that might hold a secret
    (an over-approximation)."""
    if isinstance(value, (str, bytes)):
        return hinted(value.decode("latin-1") if isinstance(value, bytes) else value)
    if isinstance(value, dict):
        return any(redactor.is_secret(k) or needs_change(redactor, v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        pair = len(value) == 2 and isinstance(value[0], (str, bytes)) and redactor.is_secret(value[0])
        return pair or any(needs_change(redactor, item) for item in value)
    return False


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_text_without_hints_is_returned_as_is(text: str) -> None:
    if not hinted(text):
        assert Redactor().redact(text) is text


def test_basic_credentials_detection_uses_base64() -> None:
    encoded = base64.b64encode(b"alice:s3cret").decode()
    assert Redactor().redact(f"sent Basic {encoded} upstream") == f"sent Basic {M} upstream"


# -- inside the encoder ------------------------------------------------------------------------------------

_KEYS = st.sampled_from(["user_email", "password", "note", "X-Api-Key", "headers", "extra", "items", "db_token"])
_LEAVES = st.one_of(
    st.sampled_from(["plain", f"Bearer {TOKEN}", f"see {TOKEN} here", "Basic dXNlcjpwYXNz", "a basic idea"]),
    st.integers(),
    st.none(),
    st.booleans(),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(body=_VALUES, attributes=st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_the_encoders_fast_path_masks_exactly_what_the_full_walk_does(body: Any, attributes: dict[str, Any]) -> None:
    # The encoder masks top-level keys inline, walks only values that hold containers, and looks for
    # tokens on the JSON text: the event must be the one a full walk of everything would give.
    from otel_cw_exporter.encode.event import EventEncoder
    from tests.support import make_record

    redactor = Redactor()
    event = json.loads(EventEncoder(redactor=redactor).encode(make_record(body, attributes)).message)
    plain = json.loads(EventEncoder().encode(make_record(body, attributes)).message)
    assert event["message"] == json.loads(json.dumps(redactor.redact(plain["message"])))
    assert event["extra"] == json.loads(json.dumps(redactor.redact(plain["extra"])))
    assert TOKEN not in json.dumps(event) and "dXNlcjpwYXNz" not in json.dumps(event)


# -- the key rule, one normalisation everywhere; what slipped through before ---------------------------------


@pytest.mark.parametrize("key", ["privateKey", "accessKey", "privatekey", "PRIVATE-KEY", "dbPassword", "X_API_KEY"])
def test_camel_case_and_run_together_spellings_are_secret(redactor: Redactor, key: str) -> None:
    assert redactor.is_secret(key)


@given(
    name=st.sampled_from(DEFAULT_SECRET_KEYS),
    prefix=st.sampled_from(["", "db", "x", "user", "http.request.header."]),
    style=st.sampled_from(["snake", "kebab", "camel", "upper", "dotted", "joined"]),
)
def test_every_spelling_of_a_secret_name_is_secret(name: str, prefix: str, style: str) -> None:
    words = [w for w in re.split(r"[-_.]", (prefix + "_" if prefix else "") + name) if w]
    spelled = {
        "snake": "_".join(words),
        "kebab": "-".join(words),
        "camel": words[0] + "".join(w.title() for w in words[1:]),
        "upper": "_".join(words).upper(),
        "dotted": ".".join(words),
        "joined": "".join(words),
    }[style]
    assert Redactor().is_secret(spelled), spelled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BeArEr sk_live_0123456789abcdef", "BeArEr [REDACTED]"),
        ("authorization: bAsIc dXNlcjpwYXNz", "authorization: bAsIc [REDACTED]"),
        ("login failed password=hunter2 from 10.0.0.1", "login failed password=[REDACTED] from 10.0.0.1"),
        ("db_password: 'x y', user=jdoe", "db_password: [REDACTED], user=jdoe"),
        ("retry with api-key:abc123&page=2", "retry with api-key:[REDACTED]&page=2"),
        ("Cookie: session=abc; theme=dark", "Cookie: [REDACTED]; theme=dark"),
        ("took 12:30 and user: jdoe", "took 12:30 and user: jdoe"),
    ],
)
def test_secrets_inside_text_in_any_case(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected
    assert redactor.redact({"message": text}) == {"message": expected}


def test_header_pairs_are_masked_by_their_name(redactor: Redactor) -> None:
    scope_headers = [(b"host", b"example.com"), (b"cookie", b"session=abc"), (b"x-api-key", b"k-123")]
    assert redactor.redact({"headers": scope_headers}) == {
        "headers": [(b"host", b"example.com"), (b"cookie", M), (b"x-api-key", M)]
    }
    as_lists = [["Authorization", "Bearer sk_live_0123456789abcdef"], ["Accept", "*/*"]]
    assert redactor.redact(as_lists) == [["Authorization", M], ["Accept", "*/*"]]


def test_code_attributes_resource_and_dataclasses_are_covered_by_the_encoder() -> None:
    import dataclasses

    from opentelemetry.sdk.resources import Resource

    from otel_cw_exporter.encode.event import EventEncoder

    @dataclasses.dataclass
    class Login:
        user: str
        password: str

    resource = Resource.create({"service.name": "s", "db.password": "res-secret", "token.url": f"u?t={TOKEN}"})
    record = make_record(
        Login("jdoe", "hunter2"),
        {"code.secret_token": "abc", "code.function.name": f"f {TOKEN}", "plain": "BeArEr sk_live_0123456789abcdef"},
        resource=resource,
    )
    event = EventEncoder(redactor=Redactor()).encode(record).message
    for secret in ("res-secret", "hunter2", "abc", TOKEN, "sk_live_0123456789abcdef"):
        assert secret not in event, secret
    parsed = json.loads(event)
    assert parsed["message"] == {"user": "jdoe", "password": M}
    assert parsed["code"]["secret_token"] == M
    assert parsed["resource"]["db.password"] == M
