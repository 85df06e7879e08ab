"""Exporter options: from keyword arguments, else ``OTEL_EXPORTER_CLOUDWATCH_LOGS_*``, else defaults.

Like the OTLP exporters: an explicit argument wins over a variable. Every value is checked here, at
construction, so a mistake fails at start with a message that says what to change.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import InvalidRegionError
from botocore.utils import is_valid_uri, validate_region_name

from otel_cw_exporter.encode.redaction import is_key_name
from otel_cw_exporter.limits import (
    MAX_KMS_KEY_ID_LENGTH,
    MAX_TAG_KEY_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS,
    RETENTION_DAYS,
    TAG_EXTRA_CHARS,
)

PREFIX = "OTEL_EXPORTER_CLOUDWATCH_LOGS_"


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option (or variable) and the fix.

    ``problem`` is what is wrong, ``fix`` what to change (may be empty when the problem says it);
    ``str()`` is both, as ``problem; fix: fix``.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; fix: {fix}" if fix else problem)
        self.problem = problem
        self.fix = fix

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str]]:
        return type(self), (self.problem, self.fix)


def setting(label: str, value: str) -> str:
    """How to give ``label`` a value, as the person writes it: ``--region us-east-1`` (a command-line
    option), ``OTEL_..._REGION=us-east-1`` (a variable) or ``region_name='us-east-1'`` (an argument)."""
    if label.startswith("--"):
        return f"{label} {value}"
    if label.isupper():
        return f"{label}={value}"
    return f"{label}={value!r}"


def region_problem(value: str) -> str | None:
    """Why boto3 would refuse ``value`` as a region name, by botocore's own rule; None when it would not."""
    try:
        validate_region_name(value)
    except InvalidRegionError:
        return "is not an AWS region name (letters, digits and '-', as in us-east-1)"
    return None


def check_region(label: str, value: object) -> None:
    """A region boto3 would refuse fails here, not when the first export builds the client."""
    problem = region_problem(value) if isinstance(value, str) else "is not text"
    if problem:
        raise ConfigError(f"{label}={value!r} {problem}", f"use a region name, as in {setting(label, 'us-east-1')}")


def _scheme_for(authority: str) -> str:
    """``http`` for a local endpoint (localhost or an IP address), else ``https``."""
    host = urlsplit(f"//{authority}").hostname or ""
    if host == "localhost":
        return "http"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "https"
    return "http"


def endpoint_problem(value: str) -> tuple[str, str] | None:
    """``(what is wrong, the URL to use instead)`` when boto3 could not send to ``value``, else None.

    It needs a scheme (``http`` or ``https``; botocore takes others, then fails at the first request)
    and a host, by botocore's own rule.
    """
    url = value.strip()
    if url != value:
        return "has spaces around it", url
    scheme, sep, rest = url.partition("://")
    example = "https://logs.us-east-1.amazonaws.com" if scheme.lower() == "https" else "http://127.0.0.1:4599"
    try:
        if not sep:
            return "has no scheme (http:// or https://)", f"{_scheme_for(url)}://{url}"
        if scheme.lower() not in ("http", "https"):
            return f"has the scheme {scheme!r}: only http and https work", f"{_scheme_for(rest)}://{rest}"
        if not is_valid_uri(url):
            return "has no valid host name", example
    except ValueError:  # urlsplit's own refusal ("Invalid IPv6 URL")
        return "is not a URL", example
    return None


def check_endpoint(label: str, value: object) -> None:
    """An endpoint boto3 cannot use (``127.0.0.1:4599``, no scheme) fails here, not at the first export."""
    if not isinstance(value, str):
        raise ConfigError(f"{label}={value!r}: expected a URL", f"set {setting(label, 'http://127.0.0.1:4599')}")
    found = endpoint_problem(value)
    if found:
        problem, instead = found
        raise ConfigError(f"{label}={value!r} {problem}", f"set {setting(label, instead)}")


#: boto3's own variables for the endpoint, most specific first (``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` off).
AWS_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL")


def check_aws_variables(config: ExporterConfig, environ: Mapping[str, str]) -> None:
    """boto3's variables that the client we build would read, then refuse at the first export: the region
    (``AWS_DEFAULT_REGION``) when none is configured, the endpoint when none is."""
    region = environ.get("AWS_DEFAULT_REGION", "")
    if config.region_name is None and region:
        check_region("AWS_DEFAULT_REGION", region)
    if config.endpoint_url is None:
        check_aws_endpoint(environ)


def check_aws_endpoint(environ: Mapping[str, str]) -> None:
    """The endpoint boto3 would read from its variables, checked as ``endpoint_url`` is."""
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() == "true":
        return
    for name in AWS_ENDPOINT_VARIABLES:
        if environ.get(name):
            check_endpoint(name, environ[name])
            return


def _tag_text(text: str) -> bool:
    """CloudWatch's tag rule: Unicode letters, digits and spaces, and ``_.:/=+-@``."""
    return all(unicodedata.category(c)[0] in "LNZ" or c in TAG_EXTRA_CHARS for c in text)


def check_tags(label: str, tags: Mapping[Any, Any]) -> None:
    """Tags CreateLogGroup would refuse (so the exporter could create no group) fail here."""
    if len(tags) > MAX_TAGS:
        raise ConfigError(f"{label}: at most {MAX_TAGS} tags per log group, got {len(tags)}")
    for key, value in tags.items():
        shown = f"{label}: tag {key!r}={value!r}"
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(f"{shown}: keys and values must be text", "quote the value, as in {'team': '42'}")
        if not 1 <= len(key) <= MAX_TAG_KEY_LENGTH or len(value) > MAX_TAG_VALUE_LENGTH:
            raise ConfigError(
                f"{shown}: a key has 1 to {MAX_TAG_KEY_LENGTH} characters, a value at most {MAX_TAG_VALUE_LENGTH}"
            )
        if not (_tag_text(key) and _tag_text(value)):
            raise ConfigError(
                f"{shown}: tags hold only letters, digits, spaces and {TAG_EXTRA_CHARS}", "drop the other characters"
            )
        if key.lower().startswith("aws:"):
            raise ConfigError(f"{shown}: the prefix 'aws:' is AWS's own", "choose another key")


def _bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={text!r}: expected true or false")


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: expected a number of seconds") from None
    return value


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: expected a whole number") from None


#: What a size may end with (``256MiB``), and its bytes; no unit means bytes.
_SIZE_UNITS = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SIZE = re.compile(r"\s*(\d+)\s*([a-zA-Z]*)\s*")


def _size(name: str, text: str) -> int:
    """A number of bytes: ``268435456``, ``256MiB``, ``64 KiB``, ``1GiB``."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ConfigError(f"{name}={text!r}: expected a size in bytes", f"set {setting(name, '256MiB')} (or KiB, GiB)")
    return int(match.group(1)) * _SIZE_UNITS[unit]


def _set(name: str, text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def _mapping(name: str, text: str) -> dict[str, str]:
    """``k=v,k2=v2`` (like OTEL_RESOURCE_ATTRIBUTES) or a JSON object."""
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{name}: not valid JSON ({error})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a JSON object")
        return {str(k): str(v) for k, v in value.items()}
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, val = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{name}: expected key=value pairs separated by commas, got {part!r}")
        pairs[key.strip()] = val.strip()
    return pairs


def _text(name: str, text: str) -> str:
    return text.strip()


#: option -> (variable suffix, parser): the single table of variable names, also shown in the README.
ENVIRONMENT: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "log_group_name": ("GROUP_NAME", _text),
    "log_stream_name": ("STREAM_NAME", _text),
    "region_name": ("REGION", _text),
    "endpoint_url": ("ENDPOINT", _text),
    "create_log_group": ("CREATE_GROUP", _bool),
    "create_log_stream": ("CREATE_STREAM", _bool),
    "timeout": ("TIMEOUT", _number),
    "max_concurrency": ("MAX_CONCURRENCY", _int),
    "xray_trace_id": ("XRAY_TRACE_ID", _bool),
    "routes": ("ROUTES", _text),
    "environments": ("ENVIRONMENTS", _set),
    "retention_days": ("RETENTION_DAYS", _int),
    "tags": ("TAGS", _mapping),
    "kms_key_id": ("KMS_KEY_ID", _text),
    "entity": ("ENTITY", _bool),
    "redact_keys": ("REDACT_KEYS", _set),
    "integrity": ("INTEGRITY", _bool),
    "integrity_key": ("INTEGRITY_KEY", _text),
    "integrity_key_file": ("INTEGRITY_KEY_FILE", _text),
    "spool_dir": ("SPOOL_DIR", _text),
    "spool_max_bytes": ("SPOOL_MAX_BYTES", _size),
    "dead_letter_max_bytes": ("DEAD_LETTER_MAX_BYTES", _size),
}
#: Bytes an integrity key has at least: HMAC with a shorter secret can be guessed.
MIN_KEY_BYTES = 16
_KEY_FIX = "use a random secret of at least 16 bytes, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
#: The spool's bound on the events it holds, and the dead-letter file's (each of its two generations).
DEFAULT_SPOOL_MAX_BYTES = 256 * 1024**2
DEFAULT_DEAD_LETTER_MAX_BYTES = 64 * 1024**2
#: The smallest bound either takes: a few events.
MIN_SPOOL_BYTES = 1024


def env_name(option: str) -> str:
    return PREFIX + ENVIRONMENT[option][0]


_BOOLEANS = ("create_log_group", "create_log_stream", "xray_trace_id", "entity", "integrity")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class ExporterConfig:
    """The resolved, validated options of one exporter."""

    log_group_name: str
    log_stream_name: str = "{service.name}"
    region_name: str | None = None
    endpoint_url: str | None = None
    create_log_group: bool = False
    create_log_stream: bool = True
    timeout: float = 10.0
    max_concurrency: int = 4
    xray_trace_id: bool = False
    routes: Any = ()
    environments: frozenset[str] | None = None
    retention_days: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None
    entity: bool = False
    redact_keys: frozenset[str] | None = None
    integrity: bool = False
    integrity_key: str | bytes | None = field(default=None, repr=False)
    integrity_key_file: str | None = None
    spool_dir: str | None = None
    """Where events that could not be delivered yet are kept for later (None: nowhere, they are dropped)."""
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    dead_letter_max_bytes: int = DEFAULT_DEAD_LETTER_MAX_BYTES
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Option -> the variable its value came from (options given as arguments are not in it)."""

    def source(self, option: str) -> str:
        """What a message names for ``option``: the variable its value came from, else the option."""
        return self.sources.get(option, option)

    def integrity_secret(self) -> bytes | None:
        """The integrity key's bytes (from ``integrity_key`` or its file); None: plain SHA-256 chains."""
        key, path = self.integrity_key, self.integrity_key_file
        if path is not None:
            key = read_key_file(path, self.source("integrity_key_file"))
        if key is None:
            return None
        return key.encode("utf-8") if isinstance(key, str) else bytes(key)

    def _check_integrity(self) -> None:
        label = self.source
        key, path = self.integrity_key, self.integrity_key_file
        if key is not None and not isinstance(key, (str, bytes)):
            raise ConfigError(f"{label('integrity_key')} must be text or bytes, not {type(key).__name__}", _KEY_FIX)
        if path is not None and not isinstance(path, str):
            raise ConfigError(f"{label('integrity_key_file')}={path!r}: expected a file path")
        if key is not None and path is not None:
            raise ConfigError(
                f"both {label('integrity_key')} and {label('integrity_key_file')} are set",
                "give the key one way only",
            )
        if (key is not None or path is not None) and not self.integrity:  # a key alone turns it on
            named = label("integrity_key") if key is not None else label("integrity_key_file")
            raise ConfigError(
                f"{named} is set but {label('integrity')} turns integrity off",
                "remove the key, or turn integrity on",
            )
        secret = self.integrity_secret()
        if secret is not None and len(secret) < MIN_KEY_BYTES:
            named = label("integrity_key") if key is not None else label("integrity_key_file")
            raise ConfigError(f"{named}: the key has {len(secret)} byte(s), fewer than {MIN_KEY_BYTES}", _KEY_FIX)

    def __post_init__(self) -> None:
        label = self.source
        if not self.log_group_name:
            raise ConfigError(
                f"log_group_name is required: pass log_group_name=... or set {env_name('log_group_name')}"
            )
        if not self.log_stream_name:
            raise ConfigError("log_stream_name must not be empty")
        if self.region_name is not None:
            check_region(label("region_name"), self.region_name)
        if self.endpoint_url is not None:
            check_endpoint(label("endpoint_url"), self.endpoint_url)
        for option in _BOOLEANS:
            value = getattr(self, option)
            if not isinstance(value, bool):
                raise ConfigError(f"{label(option)}={value!r}: expected True or False")
        if not (_is_number(self.timeout) and math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError(f"{label('timeout')}={self.timeout!r}: expected a positive number of seconds")
        concurrency = self.max_concurrency
        if not (isinstance(concurrency, int) and _is_number(concurrency) and 1 <= concurrency <= 64):
            raise ConfigError(f"{label('max_concurrency')}={concurrency!r}: expected a whole number from 1 to 64")
        days = self.retention_days
        if days is not None and not (isinstance(days, int) and _is_number(days) and days in RETENTION_DAYS):
            allowed = ", ".join(map(str, RETENTION_DAYS))
            raise ConfigError(f"{label('retention_days')}={days!r}: CloudWatch accepts only {allowed}")
        if not isinstance(self.tags, Mapping):
            raise ConfigError(f"{label('tags')}={self.tags!r}: expected a mapping of tag names to values")
        check_tags(label("tags"), self.tags)
        key = self.kms_key_id
        if key is not None and not (isinstance(key, str) and 0 < len(key) <= MAX_KMS_KEY_ID_LENGTH):
            raise ConfigError(
                f"{label('kms_key_id')}={key!r}: expected a KMS key id, ARN or alias "
                f"(1 to {MAX_KMS_KEY_ID_LENGTH} characters)"
            )
        if self.environments is not None and not self.environments:
            raise ConfigError(
                f"{label('environments')} is empty: it would drop every record; leave it unset to keep all"
            )
        spool_dir = self.spool_dir
        if spool_dir is not None and not (isinstance(spool_dir, str) and spool_dir.strip() and "\0" not in spool_dir):
            raise ConfigError(
                f"{label('spool_dir')}={spool_dir!r}: expected a directory path",
                f"set {setting(label('spool_dir'), '/var/spool/myapp')}, or leave it unset to keep no spool",
            )
        for option in ("spool_max_bytes", "dead_letter_max_bytes"):
            value = getattr(self, option)
            if not (isinstance(value, int) and _is_number(value) and value >= MIN_SPOOL_BYTES):
                raise ConfigError(
                    f"{label(option)}={value!r}: expected a whole number of bytes, at least {MIN_SPOOL_BYTES}",
                    f"set {setting(label(option), '256MiB' if option == 'spool_max_bytes' else '64MiB')}",
                )
        routes = self.routes
        if not isinstance(routes, str) and (isinstance(routes, Mapping) or not isinstance(routes, Iterable)):
            fix = "wrap the one route in [...]" if isinstance(routes, Mapping) else ""
            raise ConfigError(f"{label('routes')}={routes!r}: expected a list of routes, or their JSON text", fix)
        self._check_integrity()


#: Bytes a key file may hold at most: a key is a short secret, not a file to read whole (``/dev/zero``).
MAX_KEY_FILE_BYTES = 64 * 1024


def read_key_file(path: str, label: str = "integrity_key_file") -> bytes:
    """The key a file holds (a final newline ignored): a ConfigError unless it is a small regular file."""
    fix = "give a readable regular file holding the key (at most 64 KiB)"
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | getattr(os, "O_NONBLOCK", 0))) as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"{label}={path!r} is not a regular file", fix)
            if info.st_size > MAX_KEY_FILE_BYTES:
                raise ConfigError(f"{label}={path!r} holds {info.st_size:,} bytes: not a key", fix)
            key = file.read(MAX_KEY_FILE_BYTES + 1).rstrip(b"\r\n")
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise ConfigError(
            f"{label}={path!r}: cannot read it ({getattr(error, 'strerror', None) or error})", fix
        ) from None
    if not key:
        raise ConfigError(f"{label}={path!r} is empty", fix)
    return key


def _names(label: str, value: object, *, keys: bool = False) -> frozenset[str]:
    """``environments``/``redact_keys`` as given: one name, names separated by commas, or a collection."""
    if isinstance(value, str):  # one name, or names separated by commas as in the variable
        return _set(label, value)
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ConfigError(f"{label}={value!r}: expected names, as a list or separated by commas")
    items = list(value)
    for item in items:
        if keys and not is_key_name(item):
            raise ConfigError(f"{label}={items!r} holds {item!r}: list key names such as 'password'")
        if not isinstance(item, str):
            raise ConfigError(f"{label}={items!r} holds {item!r}: list names (text) such as 'production'")
    return frozenset(items)


def resolve(arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ExporterConfig:
    """Arguments that are not None win; then variables; then the defaults.

    Text given as an argument for an option that is not text (``create_log_group="false"``, as
    ``logging.config.fileConfig`` passes it) reads as the variable's text would.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option, (suffix, parse) in ENVIRONMENT.items():
        value = arguments.get(option)
        if value is None:
            name = PREFIX + suffix
            text = environ.get(name)
            if text is None or text.strip() == "":
                continue
            value = parse(name, text)
            sources[option] = name
        elif isinstance(value, str) and parse is not _text:
            value = parse(option, value)
        values[option] = value
    for option in ("environments", "redact_keys"):
        if values.get(option) is not None:
            values[option] = _names(sources.get(option, option), values[option], keys=option == "redact_keys")
    if isinstance(values.get("spool_dir"), os.PathLike):
        values["spool_dir"] = os.fspath(values["spool_dir"])
    if isinstance(values.get("tags"), Mapping):
        values["tags"] = dict(values["tags"])
    if values.get("integrity") is None and (values.get("integrity_key") or values.get("integrity_key_file")):
        values["integrity"] = True  # giving a key means wanting the trail
    values.setdefault("log_group_name", "")
    return ExporterConfig(**values, sources=sources)
