"""Who made a request: the user e-mail from the request's JWT, verified, else ``"unauthenticated"``.

This replaces the JWT lookup inside an application's own ``cloudwatch_log(request, msg, extra)``
helper. An audit log is only worth what its ``user_email`` is worth, so a token is never trusted
without its signature: the key comes from the configuration, never from the token, and only
allowlisted algorithms are accepted.
Everything that can be wrong in the configuration fails at construction with a ``ValueError`` that
says what to change; everything that can be wrong in a request resolves to the unauthenticated value.

Pure: no network (a JWKS is given as data), no web framework import. Requests are duck-typed, so a
Starlette/FastAPI ``Request`` or ``WebSocket``, a GraphQL context, an ASGI scope, an API Gateway
event or any object with ``headers``/``cookies`` works.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from jwt.algorithms import HMACAlgorithm, get_default_algorithms

__all__ = [
    "DEFAULT_COOKIE_NAMES",
    "DEFAULT_EMAIL_CLAIMS",
    "DEFAULT_REQUIRED_CLAIMS",
    "MAX_TOKEN_LENGTH",
    "UNAUTHENTICATED",
    "CacheInfo",
    "CapturedTokens",
    "JWTIdentityResolver",
]

#: What :meth:`JWTIdentityResolver.resolve` returns when no verified e-mail is found (as the application's
#: existing helper logs it).
UNAUTHENTICATED = "unauthenticated"
#: Cookies read by default: the common session cookie name; set ``cookie_name`` to yours.
DEFAULT_COOKIE_NAMES: tuple[str, ...] = ("session",)
#: The team's tokens carry ``user_email``; ``email`` is the OIDC standard claim.
DEFAULT_EMAIL_CLAIMS: tuple[str, ...] = ("user_email", "email")
#: A token without ``exp`` never expires: a leaked one would be logged as its user forever.
DEFAULT_REQUIRED_CLAIMS: tuple[str, ...] = ("exp",)
#: Longer "tokens" are rejected before any parsing (a cookie holds at most 4 KiB anyway).
MAX_TOKEN_LENGTH = 16_384

#: A key as given: an HMAC secret, a PEM/SSH key or certificate, or a ``cryptography`` key object.
Key: TypeAlias = str | bytes | PublicKeyTypes | PrivateKeyTypes

_ALGORITHMS = {name: algorithm for name, algorithm in get_default_algorithms().items() if name.lower() != "none"}
_PRIVATE_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)
# JWK members that only a private key has: verification needs the public part alone.
_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")
_MAX_HEADER_ITEMS = 256  # a header mapping we scan by hand is never walked further than this
_MAX_UNWRAP = 4  # context -> request -> ... hops followed to reach something with headers


class CapturedTokens(tuple[str, ...]):
    """The candidate tokens read from a request by :meth:`JWTIdentityResolver.capture`, in order."""

    __slots__ = ()


class CacheInfo(NamedTuple):
    """Counters of the verified-claims cache, like ``functools.lru_cache``'s."""

    hits: int
    misses: int
    size: int
    max_size: int


def _as_tuple(value: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    """One name or several; a bare string is one name, not its characters."""
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{what} must be non-empty strings, got {item!r}")
    return items


def _looks_asymmetric(data: bytes) -> str | None:
    """What kind of public-key material ``data`` looks like, if any (never a plain secret)."""
    text = data.strip()
    if b"-----BEGIN" in text:
        return "a PEM key or certificate"
    if text.startswith((b"ssh-", b"ecdsa-sha2-")):
        return "an SSH public key"
    if text.startswith(b"{") and b'"kty"' in text:
        return "a JWK (pass it as jwks={'keys': [...]})"
    return None


def _public(key: Any) -> Any:
    """Verification needs only the public half; holding less secret material is better."""
    return key.public_key() if isinstance(key, _PRIVATE_KEYS) else key


def _check_algorithms(algorithms: str | Sequence[str] | None) -> tuple[str, ...]:
    if algorithms is not None and not isinstance(algorithms, (str, Sequence)):
        raise ValueError(f"algorithms must be a list of names such as ['HS256'], got {algorithms!r}")
    if not algorithms:
        raise ValueError(
            "algorithms is required: list the algorithm(s) your issuer signs with, e.g. algorithms=['HS256'] "
            "or ['RS256']; trusting the token's own 'alg' header is how JWT verification gets bypassed"
        )
    names = (algorithms,) if isinstance(algorithms, str) else tuple(algorithms)
    for name in names:
        if not isinstance(name, str):
            raise ValueError(f"algorithms must be strings such as 'HS256', got {name!r}")
        if name.lower() == "none":
            raise ValueError(
                "algorithms must not contain 'none': it accepts unsigned tokens anyone can forge; "
                "list the algorithm your issuer signs with, e.g. ['HS256'] or ['RS256']"
            )
        if name not in _ALGORITHMS:
            hint = next((known for known in _ALGORITHMS if known.lower() == name.lower()), None)
            suggestion = f"did you mean {hint!r}?" if hint else f"use one of {sorted(_ALGORITHMS)}"
            raise ValueError(f"unknown algorithm {name!r} in algorithms: {suggestion}")
    hmac = [name for name in names if isinstance(_ALGORITHMS[name], HMACAlgorithm)]
    if hmac and len(hmac) != len(names):
        others = [name for name in names if name not in hmac]
        raise ValueError(
            f"algorithms mixes HMAC {hmac} with asymmetric {others}: one resolver verifies either shared "
            "secrets or public keys, never both (a public key must never double as an HMAC secret, the "
            "HS/RS confusion attack); use two resolvers if you really accept both kinds of token"
        )
    return tuple(dict.fromkeys(names))


def _prepare_secret(index: int, key: object, algorithms: tuple[str, ...]) -> bytes:
    """An HMAC secret as bytes, refusing anything that looks like public-key material."""
    if not isinstance(key, (str, bytes)):
        raise ValueError(
            f"keys[{index}] is a {type(key).__name__}, but {list(algorithms)} verify with a shared secret "
            "(str or bytes); for a public key use algorithms=['RS256'] (or ES256, PS256, EdDSA)"
        )
    data = key.encode("utf-8") if isinstance(key, str) else key
    if not data:
        raise ValueError(f"keys[{index}] is empty: give the HMAC secret your issuer signs with")
    kind = _looks_asymmetric(data)
    if kind is not None:
        raise ValueError(
            f"keys[{index}] looks like {kind}, but {list(algorithms)} would use it as a shared HMAC secret, "
            "which lets anyone who knows the public key forge tokens (HS/RS confusion); "
            "use the key's own algorithm, e.g. algorithms=['RS256']"
        )
    return data


def _prepare_public(index: int, key: object, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """``{algorithm: loaded key}`` for every allowed algorithm this key can verify."""
    material: Any = key
    if isinstance(key, (str, bytes)):
        data = key.encode("utf-8") if isinstance(key, str) else key
        if _looks_asymmetric(data) is None:
            raise ValueError(
                f"keys[{index}] looks like a plain secret, but {list(algorithms)} verify with a public key: "
                "give the issuer's public key (PEM text, or a cryptography key object), or use "
                "algorithms=['HS256'] if your tokens are signed with a shared secret"
            )
        if b"-----BEGIN CERTIFICATE" in data:
            try:
                material = x509.load_pem_x509_certificate(data.strip()).public_key()
            except ValueError as error:
                raise ValueError(f"keys[{index}] is not a readable PEM certificate: {error}") from None
    prepared: dict[str, Any] = {}
    for name in algorithms:
        try:
            prepared[name] = _public(_ALGORITHMS[name].prepare_key(_public(material)))
        except Exception:
            continue
    if not prepared:
        raise ValueError(
            f"keys[{index}] ({type(key).__name__}) cannot verify any of {list(algorithms)}: check the PEM text, "
            "or match the algorithm to the key type (RSA: RS*/PS*, EC: ES*, Ed25519/Ed448: EdDSA)"
        )
    return prepared


def _load_jwks(jwks: object, algorithms: tuple[str, ...]) -> list[tuple[str | None, str, Any]]:
    """``(kid, algorithm, key)`` for every usable key of a JWKS given as data (never fetched)."""
    data: Any = jwks
    if isinstance(jwks, (str, bytes)):
        try:
            data = json.loads(jwks)
        except ValueError as error:
            raise ValueError(f"jwks is not valid JSON ({error}): give the JWKS document or its dict") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise ValueError("jwks must be a JWKS: a dict (or JSON text) like {'keys': [{'kty': ..., 'kid': ...}]}")
    loaded: list[tuple[str | None, str, Any]] = []
    for jwk_data in data["keys"]:
        if not isinstance(jwk_data, Mapping) or jwk_data.get("use", "sig") != "sig":
            continue  # not a key, or an encryption key
        public = {name: value for name, value in jwk_data.items() if name not in _PRIVATE_JWK_MEMBERS}
        kid = public.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        declared = public.get("alg")
        for name in (declared,) if declared is not None else algorithms:
            if name not in algorithms:
                continue  # a key for an algorithm we do not accept
            try:
                loaded.append((kid, name, _public(jwt.PyJWK(public, name).key)))
            except Exception:
                continue
    if not loaded:
        raise ValueError(
            f"jwks has no signing key usable with {list(algorithms)}: check each key's 'kty'/'alg' "
            "(RSA keys for RS*/PS*, EC for ES*, OKP for EdDSA, oct for HS*)"
        )
    return loaded


def _text(value: object) -> str | None:
    """A header/cookie value as text: bytes are latin-1 (as in ASGI), lists give their first item."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return None


def _header_values(headers: object, name: str) -> list[str]:
    """Every value of header ``name`` in any header container, matched case-insensitively."""
    if headers is None:
        return []
    lower = name.lower()
    if isinstance(headers, (list, tuple)):  # ASGI scope["headers"]: [(b"name", b"value"), ...]
        found = []
        for pair in headers[:_MAX_HEADER_ITEMS]:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                key = _text(pair[0])
                value = _text(pair[1])
                if key is not None and value is not None and key.lower() == lower:
                    found.append(value)
        return found
    getlist = getattr(headers, "getlist", None)
    if callable(getlist) and not isinstance(headers, dict):  # Starlette Headers: case-insensitive, repeated
        values = [_text(value) for value in getlist(name)]
        return [value for value in values if value is not None]
    getter = getattr(headers, "get", None)
    if callable(getter):
        for candidate in (name, lower):
            raw = getter(candidate)
            if raw is not None:
                if isinstance(raw, (list, tuple)):  # API Gateway multiValueHeaders
                    return [text for text in map(_text, raw) if text is not None]
                value = _text(raw)
                return [] if value is None else [value]
    items = getattr(headers, "items", None)
    if callable(items):  # a plain dict in any case: "AUTHORIZATION", "Cookie"
        for count, (key, raw) in enumerate(items()):
            if count >= _MAX_HEADER_ITEMS:
                break
            if isinstance(key, str) and key.lower() == lower:
                value = _text(raw)
                return [] if value is None else [value]
    return []


def _parse_cookies(header: str) -> dict[str, str]:
    """A ``Cookie`` header as a dict; lenient like browsers and Starlette, first occurrence wins."""
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if sep and name and name not in cookies:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
    return cookies


def _source(request: object) -> Any:
    """The object that carries headers: unwraps GraphQL contexts (``context["request"]``, ``.request``)."""
    current: Any = request
    for _ in range(_MAX_UNWRAP):
        if current is None:
            return None
        if isinstance(current, Mapping):
            if "request" in current and "headers" not in current and "cookies" not in current:
                current = current["request"]
                continue
            return current
        if any(hasattr(current, name) for name in ("headers", "cookies", "scope", "META")):
            return current
        inner = getattr(current, "request", None)
        if inner is None:
            inner = getattr(current, "context", None)  # a GraphQL ``info``
        current = inner
    return None


def _member(source: Any, name: str) -> Any:
    """``source[name]`` for a mapping (API Gateway event, ASGI scope), else ``source.name``."""
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _meta_headers(meta: object) -> dict[str, str] | None:
    """Headers from a WSGI environ or Django's ``request.META`` (``HTTP_AUTHORIZATION``, ``HTTP_COOKIE``...)."""
    if not isinstance(meta, Mapping):
        return None
    headers: dict[str, str] = {}
    for count, (key, value) in enumerate(meta.items()):
        if count >= _MAX_HEADER_ITEMS * 4:
            break
        if isinstance(key, str) and key.startswith("HTTP_") and isinstance(value, str):
            headers[key[5:].replace("_", "-").lower()] = value
    return headers


def _bearer(value: str) -> str | None:
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


class JWTIdentityResolver:
    """The caller's e-mail from a verified JWT in the request's cookie or ``Authorization`` header.

    Keyword arguments:

    * ``algorithms`` (required): the allowlist. Tokens whose header ``alg`` is not in it are rejected
      before any key is touched. ``none``, unknown names and HMAC mixed with asymmetric are refused.
    * ``keys``: one key or a sequence (tried in order, for rotation): ``str``/``bytes`` secrets for HS*;
      PEM text (public key, private key or certificate), SSH public keys or ``cryptography`` key objects
      for RS*/PS*/ES*/EdDSA (private keys are reduced to their public half).
    * ``jwks``: a JWKS as data (``{"keys": [...]}`` or its JSON text), never fetched; a token's ``kid``
      selects its key, a token without ``kid`` is tried against every key of its algorithm. Static
      ``keys`` apply when the ``kid`` is absent or unknown to the JWKS.
    * ``cookie_name``: one name or several (default ``"session"``); ``None`` reads no cookie.
    * ``header``: default ``"Authorization"`` with the ``Bearer`` scheme; ``None`` reads no header.
    * ``email_claims``: default ``("user_email", "email")``; the first holding a non-empty string wins.
    * ``audience``/``issuer``: verified when given. Without ``audience``, tokens that carry ``aud`` are
      rejected (pyjwt's rule): set it if your tokens have one.
    * ``leeway``: seconds (or a ``timedelta``) of clock skew tolerated on ``exp``/``nbf``/``iat``;
      default 0, like pyjwt. Match it to your application's own auth.
    * ``required_claims``: default ``("exp",)``, since a token without expiry is valid forever once
      leaked; pass ``()`` for legacy tokens without ``exp``.
    * ``cache_size``: verified claims of up to this many tokens are kept (LRU, default 1024, 0 = off).
      An entry is never served at or after its token's ``exp``; failures are not cached.
    * ``unauthenticated``: what :meth:`resolve` returns without a verified e-mail.
    * ``clock``: seconds since the epoch (default ``time.time``), for the cache and the time claims; pyjwt
      also checks the time claims against the wall clock, so a result must satisfy both.

    Token order: cookies first (in ``cookie_name`` order), then the header; the first token that verifies
    wins, so a stale cookie does not hide a valid header. Thread-safe: the configuration is immutable
    after construction and the cache is guarded by a lock, so worker threads and event loops can share one.
    """

    def __init__(
        self,
        *,
        algorithms: str | Sequence[str],
        keys: Key | Sequence[Key] | None = None,
        jwks: Mapping[str, Any] | str | bytes | None = None,
        cookie_name: str | Sequence[str] | None = DEFAULT_COOKIE_NAMES,
        header: str | None = "Authorization",
        email_claims: str | Sequence[str] = DEFAULT_EMAIL_CLAIMS,
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        leeway: float | timedelta = 0,
        required_claims: str | Sequence[str] = DEFAULT_REQUIRED_CLAIMS,
        cache_size: int = 1024,
        unauthenticated: str = UNAUTHENTICATED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithms = _check_algorithms(algorithms)
        hmac = isinstance(_ALGORITHMS[self._algorithms[0]], HMACAlgorithm)

        if keys is None:
            given: tuple[Any, ...] = ()
        elif isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
            given = (keys,)
        else:
            given = tuple(keys)
        # algorithm -> keys able to verify it, in the order given
        self._keys: dict[str, list[Any]] = {name: [] for name in self._algorithms}
        for index, key in enumerate(given):
            if hmac:
                secret = _prepare_secret(index, key, self._algorithms)
                for name in self._algorithms:
                    self._keys[name].append(secret)
            else:
                for name, prepared in _prepare_public(index, key, self._algorithms).items():
                    self._keys[name].append(prepared)

        # kid -> algorithm -> keys; kid None holds the JWKS keys that have no kid
        self._jwks: dict[str | None, dict[str, list[Any]]] = {}
        self._jwks_by_alg: dict[str, list[Any]] = {}
        if jwks is not None:
            for kid, name, key in _load_jwks(jwks, self._algorithms):
                self._jwks.setdefault(kid, {}).setdefault(name, []).append(key)
                self._jwks_by_alg.setdefault(name, []).append(key)
        elif not given:
            raise ValueError("no keys: pass keys=<secret or public key> or jwks={'keys': [...]} to verify tokens with")
        unserved = [name for name in self._algorithms if not self._keys[name] and name not in self._jwks_by_alg]
        if unserved:
            raise ValueError(
                f"no key can verify {unserved}: remove them from algorithms or add a key of the matching type"
            )

        self._cookie_names = _as_tuple(cookie_name, "cookie_name")
        if header is not None and (not isinstance(header, str) or not header):
            raise ValueError(f"header must be a header name such as 'Authorization' or None, got {header!r}")
        self._header = header
        if not self._cookie_names and self._header is None:
            raise ValueError("cookie_name and header are both None: give at least one place to read the token from")
        self._email_claims = _as_tuple(email_claims, "email_claims")
        if not self._email_claims:
            raise ValueError("email_claims is empty: name the claim holding the e-mail, e.g. ('user_email',)")
        audiences, issuers = _as_tuple(audience, "audience"), _as_tuple(issuer, "issuer")
        if audience is not None and not audiences:
            raise ValueError("audience is empty: give the audience your tokens carry, or None to accept none")
        if issuer is not None and not issuers:
            raise ValueError("issuer is empty: give the issuer your tokens carry, or None not to check it")
        self._audience = audience if audience is None or isinstance(audience, str) else list(audiences)
        self._issuer = issuer if issuer is None or isinstance(issuer, str) else list(issuers)
        seconds = leeway.total_seconds() if isinstance(leeway, timedelta) else leeway
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise ValueError(f"leeway must be a number of seconds >= 0 (or a timedelta), got {leeway!r}")
        self._leeway = float(seconds)
        self._required = list(_as_tuple(required_claims, "required_claims"))
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an int >= 0 (0 turns the cache off), got {cache_size!r}")
        self._cache_size = cache_size
        if not isinstance(unauthenticated, str):
            raise ValueError(f"unauthenticated must be a str, got {unauthenticated!r}")
        self._unauthenticated = unauthenticated
        if not callable(clock):
            raise ValueError("clock must be a callable returning seconds since the epoch, like time.time")
        self._clock = clock

        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[Mapping[str, Any], float]] = OrderedDict()
        self._hits = 0
        self._misses = 0

    def __repr__(self) -> str:  # never shows a key
        return (
            f"JWTIdentityResolver(algorithms={list(self._algorithms)}, cookie_name={list(self._cookie_names)}, "
            f"header={self._header!r}, email_claims={list(self._email_claims)})"
        )

    @property
    def unauthenticated(self) -> str:
        """The value :meth:`resolve` returns without a verified e-mail."""
        return self._unauthenticated

    # -- reading the token -------------------------------------------------------------------------

    def capture(self, request: object) -> CapturedTokens:
        """The candidate tokens of ``request``, read now (cheap; no signature is checked).

        ``cloudwatch_log`` calls this on the caller's thread, where a request proxy (Flask's ``request``)
        still works, and hands the result to :meth:`resolve` on its worker.
        """
        return CapturedTokens(self.tokens_from(request))

    def tokens_from(self, request: object) -> Iterator[str]:
        """Every candidate token of ``request``, cookies first, then the header; never raises."""
        if isinstance(request, CapturedTokens):
            yield from request
            return
        seen: set[str] = set()
        try:
            source = _source(request)
            if source is None:
                return
            if isinstance(source, Mapping) and "headers" not in source and "cookies" not in source:
                headers: Any = source  # a bare header mapping
            else:
                headers = _member(source, "headers")
            if headers is None:
                scope = getattr(source, "scope", None)
                if isinstance(scope, Mapping):
                    headers = scope.get("headers")
            if headers is None:
                headers = _meta_headers(_member(source, "META"))
            cookies = _member(source, "cookies")
            if cookies is None:
                cookies = _member(source, "COOKIES")  # Django
            candidates: list[str] = []
            if self._cookie_names:
                candidates.extend(self._cookie_tokens(cookies, headers))
            if self._header is not None:
                for value in _header_values(headers, self._header):
                    token = _bearer(value)
                    if token is not None:
                        candidates.append(token)
        except Exception:
            return
        for token in candidates:
            if token not in seen:
                seen.add(token)
                yield token

    def _cookie_tokens(self, cookies: object, headers: object) -> list[str]:
        found: dict[str, str] = {}
        if isinstance(cookies, Mapping):
            for name in self._cookie_names:
                value = _text(cookies.get(name))
                if value:
                    found[name] = value
        elif isinstance(cookies, (str, list, tuple)):  # a Cookie header, or API Gateway v2's ["a=b", ...]
            parts = [cookies] if isinstance(cookies, str) else [p for p in map(_text, cookies) if p]
            parsed = _parse_cookies("; ".join(parts))
            found.update({name: parsed[name] for name in self._cookie_names if parsed.get(name)})
        if len(found) < len(self._cookie_names):  # no usable cookies object: parse the header(s)
            parsed = _parse_cookies("; ".join(_header_values(headers, "cookie")))
            for name in self._cookie_names:
                if name not in found and parsed.get(name):
                    found[name] = parsed[name]
        return [found[name] for name in self._cookie_names if name in found]

    def token_from(self, request: object) -> str | None:
        """The first candidate token (cookie before header), unverified; ``None`` when there is none."""
        return next(self.tokens_from(request), None)

    # -- verifying it --------------------------------------------------------------------------------

    def claims(self, request: object) -> Mapping[str, Any] | None:
        """The verified claims of the first token that verifies (read-only), else ``None``; never raises."""
        try:
            for token in self.tokens_from(request):
                claims = self.verify(token)
                if claims is not None:
                    return claims
        except Exception:
            return None
        return None

    def resolve(self, request: object) -> str:
        """The caller's e-mail from a verified token, else the unauthenticated value; never raises."""
        try:
            claims = self.claims(request)
            if claims is not None:
                for name in self._email_claims:
                    value = claims.get(name)
                    if isinstance(value, str) and value.strip():
                        return value.strip()
        except Exception:
            pass
        return self._unauthenticated

    def verify(self, token: str) -> Mapping[str, Any] | None:
        """The claims of ``token`` when its signature and claims verify, else ``None``; never raises."""
        try:
            now = float(self._clock())
            if self._cache_size:
                with self._lock:
                    entry = self._cache.get(token)
                    if entry is not None:
                        if now < entry[1]:
                            self._cache.move_to_end(token)
                            self._hits += 1
                            return entry[0]
                        del self._cache[token]  # at or past its exp: never served again
                    self._misses += 1
            claims = self._decode(token, now)
            if claims is None:
                return None
            exp = claims.get("exp")
            expires = float(exp) if exp is not None else float("inf")
            if self._cache_size and now < expires:
                with self._lock:
                    self._cache[token] = (claims, expires)
                    self._cache.move_to_end(token)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            return claims
        except Exception:
            return None

    def cache_info(self) -> CacheInfo:
        """Hits, misses and size of the verified-claims cache."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache), self._cache_size)

    def cache_clear(self) -> None:
        """Forget every verified token (e.g. after revoking keys elsewhere)."""
        with self._lock:
            self._cache.clear()

    def _candidate_keys(self, algorithm: str, kid: object) -> list[Any]:
        if isinstance(kid, str) and kid in self._jwks:
            return self._jwks[kid].get(algorithm, [])  # a known kid selects its key, nothing else
        keys = list(self._keys[algorithm])
        if kid is None:
            keys.extend(self._jwks_by_alg.get(algorithm, []))
        return keys

    def _decode(self, token: str, now: float) -> Mapping[str, Any] | None:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        header = jwt.get_unverified_header(token)  # only to pick the key; nothing in it is trusted
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._keys:
            return None
        for key in self._candidate_keys(algorithm, header.get("kid")):
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway,
                    options={"require": self._required},
                )
            except jwt.InvalidSignatureError:
                continue  # another key may have signed it (rotation)
            except Exception:
                return None  # the signature verified but a claim did not, or the token is malformed
            if not isinstance(claims, dict) or not self._in_time(claims, now):
                return None
            return MappingProxyType(claims)
        return None

    def _in_time(self, claims: Mapping[str, Any], now: float) -> bool:
        """The time claims against the resolver's clock (pyjwt checked them against the wall clock)."""
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if exp is not None and float(exp) <= now - self._leeway:
            return False
        return nbf is None or float(nbf) <= now + self._leeway
