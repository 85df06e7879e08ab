"""JWTIdentityResolver: only verified tokens name a user; every request shape works; bad config fails fast."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, RSAAlgorithm

from otel_cw_exporter.app.identity import UNAUTHENTICATED, CacheInfo, JWTIdentityResolver

SECRET = "test-secret-0123456789-0123456789-abcdef"
OTHER_SECRET = "another-secret-0123456789-0123456789-xyz"
EMAIL = "jdoe@example.com"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def pem_public(key: Any) -> str:
    data: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


def pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


RSA_PUBLIC_PEM = pem_public(RSA_KEY)


def now() -> int:
    return int(time.time())


def claims(email: str | None = EMAIL, expires_in: int | None = 3600, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {} if email is None else {"user_email": email}
    if expires_in is not None:
        body["exp"] = now() + expires_in
    body.update(more)
    return body


def hs(body: Mapping[str, Any] | None = None, key: str = SECRET, algorithm: str = "HS256", **headers: Any) -> str:
    return jwt.encode(dict(claims() if body is None else body), key, algorithm=algorithm, headers=headers or None)


def rs(body: Mapping[str, Any] | None = None, key: Any = RSA_KEY, algorithm: str = "RS256", **headers: Any) -> str:
    return jwt.encode(dict(claims() if body is None else body), key, algorithm=algorithm, headers=headers or None)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: Mapping[str, Any], body: Mapping[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A token built byte by byte, for the forgeries pyjwt refuses to produce."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


class FakeRequest:
    """Anything with headers and cookies, like a GraphQL ``info.context``."""

    def __init__(self, cookie: str | None = None, headers: dict[str, Any] | None = None, name: str = "session") -> None:
        self.cookies = {name: cookie} if cookie else {}
        self.headers = headers or {}


def bearer(token: str) -> FakeRequest:
    return FakeRequest(headers={"Authorization": f"Bearer {token}"})


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def hs_resolver(**options: Any) -> JWTIdentityResolver:
    return JWTIdentityResolver(
        keys=options.pop("keys", SECRET), algorithms=options.pop("algorithms", ["HS256"]), **options
    )


def rs_resolver(**options: Any) -> JWTIdentityResolver:
    return JWTIdentityResolver(
        keys=options.pop("keys", RSA_PUBLIC_PEM), algorithms=options.pop("algorithms", ["RS256"]), **options
    )


# -- valid and invalid tokens ------------------------------------------------------------------------


def test_hs256_token_in_the_cookie_names_its_user() -> None:
    resolver = hs_resolver()
    assert resolver.resolve(FakeRequest(cookie=hs())) == EMAIL
    verified = resolver.claims(FakeRequest(cookie=hs()))
    assert verified is not None and verified["user_email"] == EMAIL


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(RSA_PUBLIC_PEM, id="public-pem-str"),
        pytest.param(RSA_PUBLIC_PEM.encode(), id="public-pem-bytes"),
        pytest.param(RSA_KEY.public_key(), id="public-key-object"),
        pytest.param(RSA_KEY, id="private-key-object"),
        pytest.param(pem_private(RSA_KEY), id="private-pem"),
    ],
)
def test_rs256_token_verifies_with_every_form_of_the_public_key(key: Any) -> None:
    resolver = rs_resolver(keys=key)
    assert resolver.resolve(bearer(rs())) == EMAIL
    assert resolver.resolve(bearer(rs(key=RSA_OTHER))) == UNAUTHENTICATED


def test_a_pem_certificate_is_a_key() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    start = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(RSA_KEY.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .sign(RSA_KEY, hashes.SHA256())
    )
    resolver = rs_resolver(keys=certificate.public_bytes(serialization.Encoding.PEM))
    assert resolver.resolve(bearer(rs())) == EMAIL


def test_es256_eddsa_and_ps256() -> None:
    assert (
        JWTIdentityResolver(keys=pem_public(EC_KEY), algorithms=["ES256"]).resolve(
            bearer(rs(key=EC_KEY, algorithm="ES256"))
        )
        == EMAIL
    )
    assert (
        JWTIdentityResolver(keys=ED_KEY.public_key(), algorithms=["EdDSA"]).resolve(
            bearer(rs(key=ED_KEY, algorithm="EdDSA"))
        )
        == EMAIL
    )
    both = rs_resolver(algorithms=["RS256", "PS256"])
    assert both.resolve(bearer(rs(algorithm="PS256"))) == EMAIL
    assert both.resolve(bearer(rs(algorithm="RS256"))) == EMAIL


def test_rsa_and_ec_keys_in_one_resolver_each_verify_their_own_algorithm() -> None:
    resolver = JWTIdentityResolver(keys=[RSA_PUBLIC_PEM, pem_public(EC_KEY)], algorithms=["RS256", "ES256"])
    assert resolver.resolve(bearer(rs())) == EMAIL
    assert resolver.resolve(bearer(rs(key=EC_KEY, algorithm="ES256"))) == EMAIL


def test_expired_token_is_unauthenticated() -> None:
    resolver = hs_resolver()
    assert resolver.resolve(FakeRequest(cookie=hs(claims(expires_in=-60)))) == UNAUTHENTICATED
    assert resolver.claims(FakeRequest(cookie=hs(claims(expires_in=-60)))) is None


def test_not_yet_valid_token_is_unauthenticated() -> None:
    token = hs(claims(nbf=now() + 300))
    assert hs_resolver().resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED


def test_issued_in_the_future_is_unauthenticated() -> None:
    assert hs_resolver().resolve(FakeRequest(cookie=hs(claims(iat=now() + 300)))) == UNAUTHENTICATED


def test_leeway_accepts_a_little_clock_skew_and_no_more() -> None:
    expired_lately = hs(claims(expires_in=-5))
    valid_soon = hs(claims(nbf=now() + 5))
    long_expired = hs(claims(expires_in=-120))
    for leeway in (30, dt.timedelta(seconds=30)):
        resolver = hs_resolver(leeway=leeway)
        assert resolver.resolve(FakeRequest(cookie=expired_lately)) == EMAIL
        assert resolver.resolve(FakeRequest(cookie=valid_soon)) == EMAIL
        assert resolver.resolve(FakeRequest(cookie=long_expired)) == UNAUTHENTICATED
    strict = hs_resolver()
    assert strict.resolve(FakeRequest(cookie=expired_lately)) == UNAUTHENTICATED
    assert strict.resolve(FakeRequest(cookie=valid_soon)) == UNAUTHENTICATED


def test_wrong_key_is_unauthenticated() -> None:
    assert hs_resolver().resolve(FakeRequest(cookie=hs(key=OTHER_SECRET))) == UNAUTHENTICATED


def test_key_rotation_accepts_every_configured_key() -> None:
    resolver = hs_resolver(keys=[OTHER_SECRET, SECRET])
    assert resolver.resolve(FakeRequest(cookie=hs(key=SECRET))) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(key=OTHER_SECRET))) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(key="third-secret-0123456789-0123456789"))) == UNAUTHENTICATED


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_alg_none_token_is_rejected(alg: str) -> None:
    token = handmade({"alg": alg, "typ": "JWT"}, claims(), lambda _: b"")
    assert token.endswith(".")
    assert hs_resolver().resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED
    assert rs_resolver().resolve(bearer(token)) == UNAUTHENTICATED


def test_hs_rs_confusion_public_key_as_hmac_secret_is_rejected() -> None:
    """A forger who knows the public key signs with HS256 using the PEM text as the secret."""
    forged = handmade(
        {"alg": "HS256", "typ": "JWT"},
        claims("mallory@example.com"),
        lambda data: hmac.new(RSA_PUBLIC_PEM.encode(), data, hashlib.sha256).digest(),
    )
    resolver = rs_resolver()
    assert resolver.resolve(bearer(forged)) == UNAUTHENTICATED
    assert resolver.resolve(FakeRequest(cookie=forged)) == UNAUTHENTICATED
    assert resolver.resolve(bearer(rs())) == EMAIL  # the same resolver accepts the genuine token


def test_algorithm_outside_the_allowlist_is_rejected_even_with_the_right_key() -> None:
    assert hs_resolver().resolve(FakeRequest(cookie=hs(algorithm="HS512", key=SECRET * 2))) == UNAUTHENTICATED
    assert (
        hs_resolver(keys=SECRET * 2, algorithms=["HS512"]).resolve(
            FakeRequest(cookie=hs(algorithm="HS512", key=SECRET * 2))
        )
        == EMAIL
    )
    assert rs_resolver().resolve(bearer(rs(algorithm="PS256"))) == UNAUTHENTICATED


def test_audience_is_verified_when_configured() -> None:
    resolver = hs_resolver(audience="integrates")
    assert resolver.resolve(FakeRequest(cookie=hs(claims(aud="integrates")))) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(claims(aud=["other", "integrates"])))) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(claims(aud="other")))) == UNAUTHENTICATED
    assert resolver.resolve(FakeRequest(cookie=hs(claims()))) == UNAUTHENTICATED  # aud missing
    assert hs_resolver(audience=["a", "integrates"]).resolve(FakeRequest(cookie=hs(claims(aud="integrates")))) == EMAIL


def test_a_token_with_an_audience_needs_the_audience_configured() -> None:
    assert hs_resolver().resolve(FakeRequest(cookie=hs(claims(aud="integrates")))) == UNAUTHENTICATED


def test_issuer_is_verified_when_configured() -> None:
    resolver = hs_resolver(issuer="https://auth.example.com")
    assert resolver.resolve(FakeRequest(cookie=hs(claims(iss="https://auth.example.com")))) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(claims(iss="https://evil.example.com")))) == UNAUTHENTICATED
    assert resolver.resolve(FakeRequest(cookie=hs(claims()))) == UNAUTHENTICATED
    several = hs_resolver(issuer=["https://a.example.com", "https://b.example.com"])
    assert several.resolve(FakeRequest(cookie=hs(claims(iss="https://b.example.com")))) == EMAIL
    assert several.resolve(FakeRequest(cookie=hs(claims(iss="https://c.example.com")))) == UNAUTHENTICATED


def test_exp_is_required_by_default() -> None:
    forever = hs(claims(expires_in=None))
    assert hs_resolver().resolve(FakeRequest(cookie=forever)) == UNAUTHENTICATED
    assert hs_resolver(required_claims=()).resolve(FakeRequest(cookie=forever)) == EMAIL
    assert hs_resolver(required_claims=["exp", "iat"]).resolve(FakeRequest(cookie=hs())) == UNAUTHENTICATED
    assert hs_resolver(required_claims="iat").resolve(FakeRequest(cookie=hs(claims(iat=now())))) == EMAIL


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "not.a.jwt",
        "a.b.c.d",
        "eyJ.eyJ.",
        "....",
        "é.é.é",
        f"{b64(b'not json')}.{b64(b'{}')}.{b64(b'sig')}",
        f"{b64(b'[1, 2]')}.{b64(b'{}')}.{b64(b'sig')}",
        f"{b64(json.dumps({'alg': 'HS256'}).encode())}.{b64(b'not json')}.{b64(b'sig')}",
        f"{b64(json.dumps({'alg': 'HS256', 'kid': 7}).encode())}.{b64(b'{}')}.{b64(b'sig')}",
        f"{b64(json.dumps({'alg': 12}).encode())}.{b64(b'{}')}.{b64(b'sig')}",
        f"{b64(json.dumps({'typ': 'JWT'}).encode())}.{b64(b'{}')}.{b64(b'sig')}",
        "x" * 20_000 + "." + hs(),
    ],
)
def test_malformed_tokens_are_unauthenticated(token: str) -> None:
    resolver = hs_resolver()
    assert resolver.resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED
    assert resolver.resolve(FakeRequest(headers={"Authorization": f"Bearer {token}"})) == UNAUTHENTICATED
    assert resolver.verify(token) is None


def test_a_valid_but_huge_token_is_refused_before_parsing() -> None:
    token = hs(claims(padding="x" * 20_000))
    assert hs_resolver().resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED
    assert hs_resolver().resolve(FakeRequest(cookie=hs(claims(padding="x" * 1000)))) == EMAIL


def test_missing_token_is_unauthenticated() -> None:
    resolver = hs_resolver()
    assert resolver.token_from(FakeRequest()) is None
    assert resolver.claims(FakeRequest()) is None
    assert resolver.resolve(FakeRequest()) == UNAUTHENTICATED
    assert resolver.resolve(FakeRequest(headers={"Authorization": "Basic dXNlcjpwYXNz"})) == UNAUTHENTICATED
    assert resolver.resolve(FakeRequest(headers={"Authorization": "Bearer "})) == UNAUTHENTICATED


def test_custom_unauthenticated_value() -> None:
    resolver = hs_resolver(unauthenticated="anonymous")
    assert resolver.unauthenticated == "anonymous"
    assert resolver.resolve(FakeRequest()) == "anonymous"


# -- the e-mail claim ----------------------------------------------------------------------------------


def test_first_present_email_claim_wins() -> None:
    resolver = hs_resolver()
    both = hs({"user_email": "first@example.com", "email": "second@example.com", "exp": now() + 60})
    assert resolver.resolve(FakeRequest(cookie=both)) == "first@example.com"
    oidc = hs({"email": "oidc@example.com", "exp": now() + 60})
    assert resolver.resolve(FakeRequest(cookie=oidc)) == "oidc@example.com"
    blank = hs({"user_email": "  ", "email": "fallback@example.com", "exp": now() + 60})
    assert resolver.resolve(FakeRequest(cookie=blank)) == "fallback@example.com"
    not_text = hs({"user_email": ["x@example.com"], "exp": now() + 60})
    assert resolver.resolve(FakeRequest(cookie=not_text)) == UNAUTHENTICATED


def test_verified_token_without_email_is_unauthenticated_but_has_claims() -> None:
    token = hs({"sub": "42", "exp": now() + 60})
    resolver = hs_resolver()
    assert resolver.resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED
    verified = resolver.claims(FakeRequest(cookie=token))
    assert verified is not None and verified["sub"] == "42"


def test_custom_email_claims() -> None:
    token = hs({"https://example.com/email": "ns@example.com", "user_email": "u@example.com", "exp": now() + 60})
    assert hs_resolver(email_claims="https://example.com/email").resolve(FakeRequest(cookie=token)) == "ns@example.com"


def test_claims_are_read_only() -> None:
    verified = hs_resolver().claims(FakeRequest(cookie=hs()))
    assert isinstance(verified, MappingProxyType)
    with pytest.raises(TypeError):
        verified["user_email"] = "mallory@example.com"  # type: ignore[index]


# -- where the token comes from ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_header_in_a_plain_dict_of_any_case(name: str, scheme: str) -> None:
    token = hs()
    request = FakeRequest(headers={"User-Agent": "pytest", name: f"{scheme}  {token} "})
    resolver = hs_resolver()
    assert resolver.token_from(request) == token
    assert resolver.resolve(request) == EMAIL


def test_header_values_as_bytes_or_lists() -> None:
    token = hs()
    resolver = hs_resolver()
    assert resolver.resolve(FakeRequest(headers={"authorization": f"Bearer {token}".encode()})) == EMAIL
    assert resolver.resolve(FakeRequest(headers={"Authorization": [f"Bearer {token}"]})) == EMAIL


def test_cookie_parsed_from_the_cookie_header_when_there_is_no_cookies_mapping() -> None:
    token = hs()
    request = SimpleNamespace(headers={"Cookie": f'theme=dark; session="{token}"; other=1'})
    assert hs_resolver().token_from(request) == token
    assert hs_resolver().resolve(request) == EMAIL


def test_cookie_comes_before_the_header() -> None:
    cookie, header = hs(claims("cookie@example.com")), hs(claims("header@example.com"))
    request = FakeRequest(cookie=cookie, headers={"Authorization": f"Bearer {header}"})
    resolver = hs_resolver()
    assert resolver.token_from(request) == cookie
    assert list(resolver.tokens_from(request)) == [cookie, header]
    assert resolver.resolve(request) == "cookie@example.com"


def test_a_stale_cookie_does_not_hide_a_valid_header() -> None:
    request = FakeRequest(cookie=hs(claims(expires_in=-60)), headers={"Authorization": f"Bearer {hs()}"})
    assert hs_resolver().resolve(request) == EMAIL


def test_several_cookie_names_in_order() -> None:
    resolver = hs_resolver(cookie_name=["integrates_session", "session"])
    assert resolver.resolve(FakeRequest(cookie=hs(), name="integrates_session")) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(), name="session")) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(), name="other")) == UNAUTHENTICATED
    first = SimpleNamespace(
        cookies={"session": hs(claims("second@example.com")), "integrates_session": hs(claims("first@example.com"))},
        headers={},
    )
    assert resolver.resolve(first) == "first@example.com"


def test_cookie_or_header_can_be_turned_off() -> None:
    request_with_cookie = FakeRequest(cookie=hs())
    request_with_header = bearer(hs())
    no_header = hs_resolver(header=None)
    assert no_header.resolve(request_with_cookie) == EMAIL
    assert no_header.resolve(request_with_header) == UNAUTHENTICATED
    no_cookie = hs_resolver(cookie_name=None)
    assert no_cookie.resolve(request_with_cookie) == UNAUTHENTICATED
    assert no_cookie.resolve(request_with_header) == EMAIL
    custom_header = hs_resolver(header="X-Auth-Token")
    assert custom_header.resolve(FakeRequest(headers={"x-auth-token": f"Bearer {hs()}"})) == EMAIL


def asgi_scope(kind: str = "http", cookie: str | None = None, authorization: str | None = None) -> dict[str, Any]:
    headers = [(b"host", b"testserver"), (b"user-agent", b"pytest")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode("latin-1")))
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    scope: dict[str, Any] = {
        "type": kind,
        "path": "/api",
        "raw_path": b"/api",
        "query_string": b"",
        "headers": headers,
        "scheme": "http" if kind == "http" else "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "root_path": "",
    }
    if kind == "http":
        scope["method"] = "POST"
    return scope


async def receive() -> dict[str, Any]:
    return {"type": "websocket.disconnect"}


async def send(message: Mapping[str, Any]) -> None:
    return None


def test_starlette_request_and_websocket() -> None:
    from starlette.requests import Request
    from starlette.websockets import WebSocket

    resolver = hs_resolver(cookie_name="integrates_session")
    token = hs()
    cookie = f"theme=dark; integrates_session={token}"
    assert resolver.resolve(Request(asgi_scope(cookie=cookie))) == EMAIL
    assert resolver.resolve(Request(asgi_scope(authorization=f"Bearer {token}"))) == EMAIL
    assert resolver.resolve(Request(asgi_scope())) == UNAUTHENTICATED
    assert resolver.resolve(WebSocket(asgi_scope("websocket", cookie=cookie), receive, send)) == EMAIL
    websocket = WebSocket(asgi_scope("websocket", authorization=f"Bearer {token}"), receive, send)
    assert resolver.resolve(websocket) == EMAIL
    expired = Request(asgi_scope(cookie=f"integrates_session={hs(claims(expires_in=-1))}"))
    assert resolver.resolve(expired) == UNAUTHENTICATED


def test_graphql_contexts() -> None:
    from starlette.requests import Request

    resolver = hs_resolver()
    request = Request(asgi_scope(cookie=f"session={hs()}"))
    assert resolver.resolve({"request": request, "loaders": object()}) == EMAIL  # Strawberry/Ariadne dict
    assert resolver.resolve(SimpleNamespace(request=request)) == EMAIL  # context.request
    assert resolver.resolve(SimpleNamespace(context={"request": request})) == EMAIL  # a GraphQL ``info``
    assert resolver.resolve(SimpleNamespace(context=request)) == EMAIL
    assert resolver.resolve({"request": None}) == UNAUTHENTICATED
    assert resolver.resolve({"user": "x"}) == UNAUTHENTICATED


def test_an_object_with_only_an_asgi_scope() -> None:
    resolver = hs_resolver()
    token = hs()
    assert resolver.resolve(SimpleNamespace(scope=asgi_scope(cookie=f"a=b; session={token}"))) == EMAIL
    assert resolver.resolve(SimpleNamespace(scope=asgi_scope(authorization=f"Bearer {token}"))) == EMAIL
    assert resolver.resolve(asgi_scope(cookie=f"session={token}")) == EMAIL  # the scope dict itself
    split = asgi_scope()
    split["headers"] += [(b"cookie", b"a=b"), (b"cookie", f"session={token}".encode())]  # HTTP/2 splits cookies
    assert resolver.resolve(SimpleNamespace(scope=split)) == EMAIL


def test_api_gateway_events_and_bare_header_dicts() -> None:
    resolver = hs_resolver()
    token = hs()
    assert resolver.resolve({"headers": {"cookie": "x=1"}, "cookies": ["x=1", f"session={token}"]}) == EMAIL  # v2
    assert resolver.resolve({"headers": {"Authorization": f"Bearer {token}"}}) == EMAIL  # v1
    assert resolver.resolve({"multiValueHeaders": {}, "headers": {"Cookie": f"session={token}"}}) == EMAIL
    assert resolver.resolve({"Authorization": f"Bearer {token}"}) == EMAIL
    assert resolver.resolve({"headers": None, "cookies": None}) == UNAUTHENTICATED


class Hostile:
    @property
    def headers(self) -> Any:
        raise RuntimeError("no headers for you")

    @property
    def cookies(self) -> Any:
        raise RuntimeError("no cookies either")


class WeirdHeaders:
    def get(self, name: str) -> Any:
        raise KeyError(name)

    def items(self) -> Iterator[tuple[str, str]]:
        raise OSError("boom")


@pytest.mark.parametrize(
    "request_",
    [
        None,
        object(),
        42,
        "Bearer x.y.z",
        b"cookie",
        [],
        {},
        Hostile(),
        SimpleNamespace(headers=WeirdHeaders(), cookies=None),
        SimpleNamespace(headers=42, cookies=42),
        SimpleNamespace(headers=[(1, 2), ("a",), None], cookies=["=", ";", 3]),
        SimpleNamespace(scope="not a scope"),
        SimpleNamespace(scope={"headers": "nope"}),
        SimpleNamespace(request=SimpleNamespace(request=SimpleNamespace(request=SimpleNamespace(request=None)))),
    ],
)
def test_any_object_resolves_without_raising(request_: Any) -> None:
    resolver = hs_resolver()
    assert resolver.token_from(request_) is None
    assert resolver.claims(request_) is None
    assert resolver.resolve(request_) == UNAUTHENTICATED


def test_self_referencing_contexts_terminate() -> None:
    loop: dict[str, Any] = {}
    loop["request"] = loop
    node = SimpleNamespace()
    node.request = node
    resolver = hs_resolver()
    assert resolver.resolve(loop) == UNAUTHENTICATED
    assert resolver.resolve(node) == UNAUTHENTICATED


@settings(max_examples=200, deadline=None)
@given(
    cookie=st.text(max_size=300),
    header=st.one_of(st.none(), st.text(max_size=300), st.binary(max_size=100)),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4),
)
def test_arbitrary_cookie_and_header_values_never_raise(
    cookie: str, header: str | bytes | None, extra: dict[str, str]
) -> None:
    request = SimpleNamespace(cookies={"session": cookie}, headers={**extra, "Authorization": header})
    assert hs_resolver().resolve(request) == UNAUTHENTICATED
    assert hs_resolver().resolve({"headers": {"cookie": cookie, **extra}}) == UNAUTHENTICATED


# -- JWKS -----------------------------------------------------------------------------------------------


def jwk(key: Any, kid: str | None, **members: Any) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey) else ECAlgorithm
    data = dict(algorithm.to_jwk(key, as_dict=True))
    if kid is not None:
        data["kid"] = kid
    data.update(members)
    return data


def test_jwks_selects_the_key_by_kid() -> None:
    jwks = {"keys": [jwk(RSA_KEY.public_key(), "a"), jwk(RSA_OTHER.public_key(), "b")]}
    resolver = JWTIdentityResolver(jwks=jwks, algorithms=["RS256"])
    assert resolver.resolve(bearer(rs(key=RSA_KEY, kid="a"))) == EMAIL
    assert resolver.resolve(bearer(rs(key=RSA_OTHER, kid="b"))) == EMAIL
    assert resolver.resolve(bearer(rs(key=RSA_OTHER, kid="a"))) == UNAUTHENTICATED  # kid a, signed by b
    assert resolver.resolve(bearer(rs(key=RSA_KEY, kid="unknown"))) == UNAUTHENTICATED
    assert resolver.resolve(bearer(rs(key=RSA_OTHER))) == EMAIL  # no kid: each key of the algorithm is tried
    unknown = rs(key=EC_KEY, algorithm="ES256", kid="a")
    assert resolver.resolve(bearer(unknown)) == UNAUTHENTICATED


def test_jwks_as_json_text_with_private_members_and_mixed_keys() -> None:
    keys = [
        jwk(RSA_KEY, "private-given"),  # a private JWK: only its public part is kept
        jwk(RSA_OTHER.public_key(), "enc", use="enc"),  # an encryption key is never used to verify
        jwk(EC_KEY.public_key(), "ec", alg="ES256"),  # declared for an algorithm we do not accept
        {"kty": "nonsense", "kid": "junk"},
        "not a key",
    ]
    resolver = JWTIdentityResolver(jwks=json.dumps({"keys": keys}), algorithms=["RS256"])
    assert resolver.resolve(bearer(rs(key=RSA_KEY, kid="private-given"))) == EMAIL
    assert resolver.resolve(bearer(rs(key=RSA_OTHER, kid="enc"))) == UNAUTHENTICATED
    assert resolver.resolve(bearer(rs(key=RSA_OTHER))) == UNAUTHENTICATED


def test_jwks_key_without_alg_serves_every_allowed_algorithm_of_its_type() -> None:
    resolver = JWTIdentityResolver(jwks={"keys": [jwk(RSA_KEY.public_key(), "k")]}, algorithms=["RS256", "PS256"])
    assert resolver.resolve(bearer(rs(kid="k", algorithm="PS256"))) == EMAIL
    assert resolver.resolve(bearer(rs(kid="k", algorithm="RS256"))) == EMAIL
    pinned = JWTIdentityResolver(
        jwks={"keys": [jwk(RSA_KEY.public_key(), "k", alg="PS256")]}, algorithms=["RS256", "PS256"], keys=RSA_OTHER
    )
    assert pinned.resolve(bearer(rs(kid="k", algorithm="PS256"))) == EMAIL
    assert pinned.resolve(bearer(rs(kid="k", algorithm="RS256"))) == UNAUTHENTICATED  # the key is PS256 only


def test_jwks_and_static_keys_together() -> None:
    resolver = JWTIdentityResolver(
        jwks={"keys": [jwk(RSA_KEY.public_key(), "a")]}, keys=RSA_OTHER, algorithms=["RS256"]
    )
    assert resolver.resolve(bearer(rs(key=RSA_KEY, kid="a"))) == EMAIL
    assert resolver.resolve(bearer(rs(key=RSA_OTHER))) == EMAIL
    assert resolver.resolve(bearer(rs(key=RSA_OTHER, kid="not-in-the-jwks"))) == EMAIL  # static keys ignore kid
    assert resolver.resolve(bearer(rs(key=RSA_OTHER, kid="a"))) == UNAUTHENTICATED  # a known kid pins its key


def test_jwks_with_hmac_oct_keys() -> None:
    oct_key = HMACAlgorithm.to_jwk(SECRET.encode(), as_dict=True)
    resolver = JWTIdentityResolver(jwks={"keys": [{**oct_key, "kid": "s1"}]}, algorithms=["HS256"])
    assert resolver.resolve(FakeRequest(cookie=hs(kid="s1"))) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=hs(key=OTHER_SECRET, kid="s1"))) == UNAUTHENTICATED


def test_a_jwks_rsa_key_cannot_verify_an_hmac_token() -> None:
    """The JWKS variant of HS/RS confusion: the public key's modulus bytes as an HMAC secret."""
    public = jwk(RSA_KEY.public_key(), "a")
    forged = handmade(
        {"alg": "HS256", "kid": "a"},
        claims("mallory@example.com"),
        lambda data: hmac.new(json.dumps(public).encode(), data, hashlib.sha256).digest(),
    )
    resolver = JWTIdentityResolver(jwks={"keys": [public]}, algorithms=["RS256"])
    assert resolver.resolve(bearer(forged)) == UNAUTHENTICATED


# -- cache ------------------------------------------------------------------------------------------------


def test_cache_serves_repeats_and_stays_bounded() -> None:
    resolver = hs_resolver(cache_size=2)
    tokens = [hs(claims(f"user{i}@example.com")) for i in range(5)]
    for i, token in enumerate(tokens):
        assert resolver.resolve(FakeRequest(cookie=token)) == f"user{i}@example.com"
        assert resolver.cache_info().size <= 2
    assert resolver.cache_info() == CacheInfo(hits=0, misses=5, size=2, max_size=2)
    assert resolver.resolve(FakeRequest(cookie=tokens[4])) == "user4@example.com"
    assert resolver.cache_info().hits == 1
    assert resolver.resolve(FakeRequest(cookie=tokens[0])) == "user0@example.com"  # evicted: verified again
    assert resolver.cache_info() == CacheInfo(hits=1, misses=6, size=2, max_size=2)
    resolver.cache_clear()
    assert resolver.cache_info().size == 0


def test_failures_are_not_cached_and_size_zero_turns_the_cache_off() -> None:
    resolver = hs_resolver()
    for _ in range(3):
        assert resolver.resolve(FakeRequest(cookie=hs(key=OTHER_SECRET))) == UNAUTHENTICATED
    assert resolver.cache_info().size == 0
    off = hs_resolver(cache_size=0)
    token = hs()
    assert [off.resolve(FakeRequest(cookie=token)) for _ in range(3)] == [EMAIL] * 3
    assert off.cache_info() == CacheInfo(hits=0, misses=0, size=0, max_size=0)


def test_cache_never_serves_a_token_at_or_after_its_exp() -> None:
    clock = FakeClock(time.time())
    resolver = hs_resolver(clock=clock)
    token = hs(claims(expires_in=100))
    exp = jwt.decode(token, SECRET, algorithms=["HS256"])["exp"]
    assert resolver.resolve(FakeRequest(cookie=token)) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=token)) == EMAIL
    assert resolver.cache_info().hits == 1
    clock.now = exp - 0.001
    assert resolver.resolve(FakeRequest(cookie=token)) == EMAIL
    assert resolver.cache_info().hits == 2
    clock.now = exp  # the wall clock still says valid: the resolver's clock decides
    assert resolver.resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED
    assert resolver.cache_info().size == 0
    clock.now = exp + 3600
    assert resolver.resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED


def test_within_the_leeway_a_token_is_verified_each_time_not_cached() -> None:
    clock = FakeClock(time.time())
    resolver = hs_resolver(clock=clock, leeway=30)
    token = hs(claims(expires_in=100))
    assert resolver.resolve(FakeRequest(cookie=token)) == EMAIL
    clock.now += 110  # 10 s past exp, inside the 30 s leeway
    assert resolver.resolve(FakeRequest(cookie=token)) == EMAIL
    assert resolver.resolve(FakeRequest(cookie=token)) == EMAIL
    info = resolver.cache_info()
    assert (info.hits, info.size) == (0, 0)
    clock.now += 30
    assert resolver.resolve(FakeRequest(cookie=token)) == UNAUTHENTICATED


def test_the_clock_also_governs_nbf() -> None:
    clock = FakeClock(time.time() - 1000)  # the resolver's clock is behind the token's nbf
    resolver = hs_resolver(clock=clock)
    assert resolver.resolve(FakeRequest(cookie=hs(claims(nbf=now())))) == UNAUTHENTICATED
    clock.now = time.time()
    assert resolver.resolve(FakeRequest(cookie=hs(claims(nbf=now())))) == EMAIL


def test_a_clock_that_raises_gives_unauthenticated() -> None:
    def broken() -> float:
        raise OSError("no time")

    assert hs_resolver(clock=broken).resolve(FakeRequest(cookie=hs())) == UNAUTHENTICATED


def test_concurrent_resolution_from_many_threads() -> None:
    resolver = hs_resolver(cache_size=3)
    tokens = [hs(claims(f"user{i}@example.com")) for i in range(10)]
    bad = hs(key=OTHER_SECRET)
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def work(offset: int) -> None:
        barrier.wait()
        for n in range(300):
            i = (n + offset) % 11
            expected = UNAUTHENTICATED if i == 10 else f"user{i}@example.com"
            got = resolver.resolve(FakeRequest(cookie=bad if i == 10 else tokens[i]))
            if got != expected:
                errors.append(f"{got} != {expected}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    info = resolver.cache_info()
    assert info.size <= 3 and info.hits + info.misses == 8 * 300


def test_repr_never_shows_a_key() -> None:
    text = repr(hs_resolver())
    assert SECRET not in text and "HS256" in text


# -- construction errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"keys": SECRET, "algorithms": []}, "algorithms is required", id="empty-algorithms"),
        pytest.param({"keys": SECRET, "algorithms": None}, "algorithms is required", id="no-algorithms"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256", "none"]}, "must not contain 'none'", id="none"),
        pytest.param({"keys": SECRET, "algorithms": ["NONE"]}, "must not contain 'none'", id="NONE"),
        pytest.param({"keys": SECRET, "algorithms": ["hs256"]}, "did you mean 'HS256'", id="wrong-case"),
        pytest.param({"keys": SECRET, "algorithms": ["HS1024"]}, "unknown algorithm 'HS1024'", id="unknown"),
        pytest.param({"keys": SECRET, "algorithms": [256]}, "must be strings", id="not-a-string"),
        pytest.param({"keys": SECRET, "algorithms": {"HS256"}}, "must be a list", id="a-set"),
        pytest.param(
            {"keys": [SECRET, RSA_PUBLIC_PEM], "algorithms": ["HS256", "RS256"]}, "mixes HMAC", id="hs-and-rs"
        ),
        pytest.param({"keys": RSA_PUBLIC_PEM, "algorithms": ["HS256"]}, "HS/RS confusion", id="hs-with-pem"),
        pytest.param(
            {"keys": RSA_PUBLIC_PEM.encode(), "algorithms": ["HS512"]}, "HS/RS confusion", id="hs-with-pem-bytes"
        ),
        pytest.param(
            {"keys": "ssh-rsa AAAAB3NzaC1yc2E user@host", "algorithms": ["HS256"]}, "SSH public key", id="hs-with-ssh"
        ),
        pytest.param({"keys": '{"kty": "RSA", "n": "x"}', "algorithms": ["HS256"]}, "jwks=", id="hs-with-jwk"),
        pytest.param({"keys": RSA_KEY.public_key(), "algorithms": ["HS256"]}, "shared secret", id="hs-key-object"),
        pytest.param({"keys": "", "algorithms": ["HS256"]}, "is empty", id="hs-empty-secret"),
        pytest.param({"keys": SECRET, "algorithms": ["RS256"]}, "looks like a plain secret", id="rs-with-secret"),
        pytest.param({"keys": SECRET.encode(), "algorithms": ["ES256"]}, "looks like a plain secret", id="es-bytes"),
        pytest.param({"keys": RSA_PUBLIC_PEM, "algorithms": ["ES256"]}, "cannot verify any of", id="rsa-for-es"),
        pytest.param(
            {"keys": "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----", "algorithms": ["RS256"]},
            "cannot verify any of",
            id="bad-pem",
        ),
        pytest.param(
            {"keys": "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----", "algorithms": ["RS256"]},
            "not a readable PEM certificate",
            id="bad-certificate",
        ),
        pytest.param({"keys": RSA_PUBLIC_PEM, "algorithms": ["RS256", "ES256"]}, "no key can verify", id="unserved"),
        pytest.param({"algorithms": ["HS256"]}, "no keys", id="no-keys"),
        pytest.param({"keys": [], "algorithms": ["HS256"]}, "no keys", id="empty-keys"),
        pytest.param({"jwks": "{not json", "algorithms": ["RS256"]}, "not valid JSON", id="jwks-json"),
        pytest.param({"jwks": {"nokeys": []}, "algorithms": ["RS256"]}, "must be a JWKS", id="jwks-shape"),
        pytest.param({"jwks": {"keys": []}, "algorithms": ["RS256"]}, "no signing key usable", id="jwks-empty"),
        pytest.param(
            {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "algorithms": ["RS256"]},
            "no signing key usable",
            id="jwks-oct-for-rs",
        ),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "leeway": -1}, "leeway", id="negative-leeway"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "leeway": "5"}, "leeway", id="text-leeway"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "cache_size": -1}, "cache_size", id="cache-size"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "email_claims": ()}, "email_claims", id="no-claims"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "email_claims": [""]}, "email_claims", id="blank-claim"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "cookie_name": [""]}, "cookie_name", id="blank-cookie"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "header": ""}, "header must be", id="blank-header"),
        pytest.param(
            {"keys": SECRET, "algorithms": ["HS256"], "cookie_name": None, "header": None},
            "both None",
            id="nowhere-to-look",
        ),
        pytest.param(
            {"keys": SECRET, "algorithms": ["HS256"], "unauthenticated": None}, "unauthenticated", id="unauth"
        ),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "clock": 5}, "clock", id="clock"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "audience": []}, "audience is empty", id="no-aud"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "issuer": ()}, "issuer is empty", id="no-iss"),
        pytest.param({"keys": SECRET, "algorithms": ["HS256"], "audience": [1]}, "audience must", id="aud-type"),
    ],
)
def test_construction_fails_fast_and_says_what_to_change(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        JWTIdentityResolver(**options)


def test_a_single_algorithm_string_and_a_single_key_are_accepted() -> None:
    assert JWTIdentityResolver(keys=SECRET.encode(), algorithms="HS256").resolve(FakeRequest(cookie=hs())) == EMAIL
