"""Mask secrets before a log record leaves the process: values under secret keys, and raw secrets anywhere.

One key rule, used for mapping keys, header pairs and ``name=value`` text alike: a name is secret when
its normalised form (:func:`normalise_key`: lowercased, camelCase split, ``-``, ``.`` and spaces as
``_``) *contains* a configured name normalised the same way, compared without the separators; so
``password`` also catches ``db_password``, ``DB-Password`` and ``dbPassword``, ``private_key`` catches
``privateKey`` and ``privatekey``, and ``authorization`` catches ``http.request.header.authorization``.
Then:

1. the value under a secret mapping key becomes the mask, whatever its type;
2. in a two-item pair whose first item is a secret name (ASGI's ``scope["headers"]``, ``headers.items()``
   as a list, bytes or text), the second item becomes the mask;
3. every string anywhere, the message included, loses JWT-looking tokens (``eyJ…`` base64url
   segments), the credentials of ``Bearer …``/``Basic …`` (any case), and the value of ``name=value``,
   ``name: value`` and ``name:value`` where the name is secret (``password=hunter2`` becomes
   ``password=[REDACTED]``). Keys themselves are never rewritten.

This runs for every log record, so the common case costs little: nothing is copied unless something
changes (the very same object comes back), and strings get a substring check before any regex.
It never raises: cycles and nesting deeper than ``max_depth`` become the mask, odd keys are
never secret, objects it does not know (and their ``str()``) are left as they are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeGuard

__all__ = ["DEFAULT_MASK", "DEFAULT_MAX_DEPTH", "DEFAULT_SECRET_KEYS", "Redactor", "normalise_key"]

#: Matched by containment after normalisation (see :func:`normalise_key`): ``token`` covers
#: ``access_token``, ``refresh_token``, ``x-amz-security-token``; ``secret`` covers ``client_secret``
#: and ``aws_secret_access_key``; ``credential`` covers ``credentials``; ``cookie`` covers ``set-cookie``.
DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "authorization",
    "cookie",
    "set-cookie",
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "x-api-key",
    "access_key",
    "private_key",
    "session",
    "jwt",
    "credential",
)
DEFAULT_MASK = "[REDACTED]"
#: Containers nested deeper than this are replaced by the mask rather than walked. Deeper than the
#: encoder's own cut (``jsonsafe.MAX_DEPTH``, 64 levels become ``"<max depth>"``), so that marker shows.
DEFAULT_MAX_DEPTH = 72

_NORMALISE = str.maketrans({"-": "_", ".": "_", " ": "_"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
#: ``name=value``, ``name: value``, ``name:value``: the name, the separator, an auth scheme (kept), the value
#: (quoted, or up to a delimiter).
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]{1,64})(\s*[=:]\s*)((?i:bearer|basic)\s+)?(\"[^\"]*\"|'[^']*'|[^\s\"'&,;]+)"
)
# A JWS (3 segments) or JWE (5) in compact form; the header is JSON, so its base64url starts "eyJ".
_JWT = re.compile(r"eyJ[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*(?:\.[A-Za-z0-9_=-]*\.[A-Za-z0-9_=-]*)?")
_BEARER = re.compile(r"\b(bearer\s+)([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
_BASIC = re.compile(r"\b(basic\s+)([A-Za-z0-9+/]+=*)", re.IGNORECASE)
_SCALARS = frozenset({int, float, bool, type(None), complex})
_IN_PROGRESS = object()
_MAX_KEY_CACHE = 4096


def normalise_key(key: str) -> str:
    """``"X-Api.Key Name"`` -> ``"x_api_key_name"``, ``"privateKey"`` -> ``"private_key"``: the one form
    names are compared in (without the ``_`` separators), so spellings of one name match."""
    return _CAMEL.sub("_", key).lower().translate(_NORMALISE)


def _compact(name: str) -> str:
    """``normalise_key`` without separators: ``privateKey``, ``private-key`` and ``privatekey`` are alike."""
    return normalise_key(name).replace("_", "")


def is_key_name(name: object) -> TypeGuard[str]:
    """Whether ``name`` can be a redaction key: text with more than separators in it."""
    return isinstance(name, str) and bool(_compact(name))


def _whole(text: str, match: re.Match[str]) -> bool:
    """Whether the match is the entire (stripped) string: then it is a header value, masked as is."""
    return match.start() == len(text) - len(text.lstrip()) and match.end() == len(text.rstrip())


def _basic_credentials(encoded: str) -> bool:
    """Whether ``encoded`` is base64 of ``user:password`` (so "basic idea" is left alone)."""
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


class Redactor:
    """Masks secrets in log values; see the module docstring for the rules.

    ``keys`` are secret key names (``()`` masks no keys, and no ``name=value`` text); ``mask`` replaces
    what is secret; ``scrub_tokens`` turns the JWT/Bearer/Basic scrubbing of strings on (default) or
    off; ``max_depth`` bounds the walk. Thread-safe: the only shared state is a cache of key decisions.
    """

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        mask: str = DEFAULT_MASK,
        *,
        scrub_tokens: bool = True,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        names = (keys,) if isinstance(keys, str) else tuple(keys)
        normalised: list[str] = []
        for name in names:
            if not is_key_name(name):
                raise ValueError(f"redaction keys must be non-empty names such as 'password', got {name!r}")
            normalised.append(normalise_key(name))
        if not isinstance(mask, str):
            raise ValueError(f"mask must be a str, got {mask!r}")
        if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
            raise ValueError(f"max_depth must be an int >= 1, got {max_depth!r}")
        self._keys = tuple(dict.fromkeys(normalised))
        self._compact_keys = tuple(dict.fromkeys(name.replace("_", "") for name in self._keys))
        # Words any spelling of a secret name holds (``api_key`` -> api, key): the cheap test for
        # ``name=value`` text looks for them in the lowercased text before any regex.
        words = {word for name in self._keys for word in name.split("_") if len(word) >= 3}
        words.update(name for name in self._compact_keys if len(name) < 3)
        self._words = tuple(sorted(words))
        self._mask = mask
        self._scrub_tokens = bool(scrub_tokens)
        self._max_depth = max_depth
        self._active = bool(self._keys) or self._scrub_tokens
        # key -> secret?; keys repeat across records, so each is normalised once. A plain dict: under
        # the GIL a lost race only costs a recomputation.
        self._decisions: dict[object, bool] = {}

    @classmethod
    def disabled(cls) -> Redactor:
        """A redactor that changes nothing (no key masking, no token scrubbing)."""
        return cls(keys=(), scrub_tokens=False)

    @property
    def active(self) -> bool:
        """False when it changes nothing (no keys, no token scrubbing)."""
        return self._active

    @property
    def scrubs_tokens(self) -> bool:
        return self._scrub_tokens

    @property
    def keys(self) -> tuple[str, ...]:
        """The secret key names, normalised."""
        return self._keys

    @property
    def mask(self) -> str:
        return self._mask

    def __repr__(self) -> str:
        return f"Redactor(keys={list(self._keys)}, mask={self._mask!r}, scrub_tokens={self._scrub_tokens})"

    def is_secret(self, key: object) -> bool:
        """Whether a name (a mapping key, a header name) is secret; only ``str`` and ``bytes`` can be."""
        decision = self._decisions.get(key) if isinstance(key, (str, bytes)) else False
        if decision is None:
            text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
            compact = _compact(text)
            decision = any(name in compact for name in self._compact_keys)
            if len(self._decisions) >= _MAX_KEY_CACHE:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def might_need_scrubbing(self, text: str) -> bool:
        """The cheap test on any text (a string, or an event's whole JSON): could scrubbing change it?

        False means no string inside it holds a token or a secret ``name=value``; True asks for the walk.
        """
        if self._scrub_tokens and "eyJ" in text:
            return True
        lowered = text.lower()
        if self._scrub_tokens and ("bearer" in lowered or "basic" in lowered):
            return True
        return bool(self._keys) and ("=" in text or ":" in text) and any(word in lowered for word in self._words)

    def redact(self, value: Any) -> Any:
        """``value`` with secrets masked; the very same object when nothing needed masking. Never raises."""
        if not self._active:
            return value
        try:
            kind = type(value)
            if kind is str:
                return self._scrub(value) if self.might_need_scrubbing(value) else value
            if kind in _SCALARS:
                return value
            return self._walk(value, 0, {})
        except Exception:
            return self._mask  # a value we could not inspect must not leave unmasked

    __call__ = redact

    def scrub(self, text: str) -> str:
        """``text`` with tokens and secret ``name=value`` values masked (the same object when there are none)."""
        try:
            return self._scrub(text)
        except Exception:
            return self._mask

    # -- internals -----------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        result = text
        if self._scrub_tokens:
            if "eyJ" in result:
                result = _JWT.sub(self._replace, result)
            lowered = result.lower()
            if "bearer" in lowered:
                result = _BEARER.sub(self._bearer, result)
            if "basic" in lowered:
                result = _BASIC.sub(self._basic, result)
        if self._keys and ("=" in result or ":" in result):
            result = _ASSIGNMENT.sub(self._assignment, result)
        return text if result is text or result == text else result

    def _replace(self, match: re.Match[str]) -> str:
        return self._mask

    def _assignment(self, match: re.Match[str]) -> str:
        name, separator, scheme, value = match.groups()
        if not self.is_secret(name) or value.strip("\"'") == self._mask:
            return match.group(0)
        return name + separator + (scheme or "") + self._mask

    def _bearer(self, match: re.Match[str]) -> str:
        credentials = match.group(2)
        # Inside prose, "bearer" is a word: mask only what looks like a token (8+ chars, not a plain
        # lowercase word); a whole string such as a header value is masked whatever it holds.
        looks_like_token = len(credentials) >= 8 and not (credentials.isalpha() and credentials.islower())
        if credentials == self._mask or not (looks_like_token or _whole(match.string, match)):
            return match.group(0)
        return match.group(1) + self._mask

    def _basic(self, match: re.Match[str]) -> str:
        credentials = match.group(2)
        if credentials == self._mask or not (_basic_credentials(credentials) or _whole(match.string, match)):
            return match.group(0)
        return match.group(1) + self._mask

    def _walk(self, value: Any, depth: int, memo: dict[int, Any]) -> Any:
        kind = type(value)
        if kind is str:
            return self._scrub(value) if self.might_need_scrubbing(value) else value
        if kind in _SCALARS:
            return value
        if kind is dict:
            walk: Callable[[Any, int, dict[int, Any]], Any] = self._mapping
        elif kind is list or kind is tuple:
            walk = self._sequence
        elif isinstance(value, str):  # a str subclass: a plain str only when something changed
            if not self.might_need_scrubbing(value):
                return value
            scrubbed = self._scrub(str(value))
            return value if scrubbed == value else scrubbed
        elif isinstance(value, (bytes, bytearray)):
            return self._scrub_bytes(value)
        elif isinstance(value, Mapping):
            walk = self._mapping
        elif isinstance(value, (list, tuple)):
            walk = self._sequence
        elif isinstance(value, (set, frozenset)):
            walk = self._set
        else:
            return value  # an object we do not know: left as it is
        seen = memo.get(id(value))
        if seen is _IN_PROGRESS or depth >= self._max_depth:
            return self._mask  # a cycle, or absurd nesting: cut here rather than walk forever
        if seen is not None:
            return seen  # shared (not cyclic) containers are walked once
        memo[id(value)] = _IN_PROGRESS
        try:
            result = walk(value, depth, memo)
        except Exception:
            result = self._mask  # e.g. a mapping whose items() raises: mask rather than leak
        memo[id(value)] = result
        return result

    def _mapping(self, value: Mapping[Any, Any], depth: int, memo: dict[int, Any]) -> Any:
        copy: dict[Any, Any] | None = None
        check_keys = bool(self._keys)
        decisions = self._decisions
        mask = self._mask
        hinted = self.might_need_scrubbing
        for key, item in value.items():
            if check_keys:
                secret = decisions.get(key) if type(key) is str else None
                if secret is None:
                    secret = self.is_secret(key)
                if secret:
                    if item is mask or (type(item) is str and item == mask):
                        continue
                    if copy is None:
                        copy = dict(value)
                    copy[key] = mask
                    continue
            kind = type(item)
            if kind is str:
                if not hinted(item):
                    continue
                new = self._scrub(item)
            elif kind in _SCALARS:
                continue
            else:
                new = self._walk(item, depth + 1, memo)
            if new is item:
                continue
            if copy is None:
                copy = dict(value)
            copy[key] = new
        return value if copy is None else copy

    def _sequence(self, value: list[Any] | tuple[Any, ...], depth: int, memo: dict[int, Any]) -> Any:
        if len(value) == 2 and isinstance(value[0], (str, bytes)) and self._keys and self.is_secret(value[0]):
            # A header pair (``(b"cookie", b"session=...")``, ``["Authorization", "Bearer ..."]``).
            if value[1] == self._mask:
                return value
            return [value[0], self._mask] if isinstance(value, list) else (value[0], self._mask)
        copy: list[Any] | None = None
        for index, item in enumerate(value):
            kind = type(item)
            if kind in _SCALARS or (kind is str and not self.might_need_scrubbing(item)):
                continue
            new = self._walk(item, depth + 1, memo)
            if new is not item:
                if copy is None:
                    copy = list(value)
                copy[index] = new
        if copy is None:
            return value
        return copy if isinstance(value, list) else tuple(copy)

    def _set(self, value: set[Any] | frozenset[Any], depth: int, memo: dict[int, Any]) -> Any:
        items = [(item, self._walk(item, depth + 1, memo)) for item in value]
        if all(new is item for item, new in items):
            return value
        rebuilt = [new for _, new in items]
        return frozenset(rebuilt) if isinstance(value, frozenset) else set(rebuilt)

    def _scrub_bytes(self, value: bytes | bytearray) -> Any:
        text = bytes(value).decode("latin-1")  # one char per byte, so the rest round-trips exactly
        if not self.might_need_scrubbing(text):
            return value
        scrubbed = self._scrub(text)
        if scrubbed is text or scrubbed == text:
            return value
        data = scrubbed.encode("latin-1", errors="replace")
        return bytearray(data) if isinstance(value, bytearray) else data
