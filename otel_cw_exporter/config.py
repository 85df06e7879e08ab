"""Exporter options: from keyword arguments, else ``OTEL_EXPORTER_CLOUDWATCH_LOGS_*``, else defaults.

Like the OTLP exporters: an explicit argument wins over a variable. Every value is checked here, at
construction, so a mistake fails at start with a message that says what to change.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from otel_cw_exporter.limits import MAX_TAGS, RETENTION_DAYS

PREFIX = "OTEL_EXPORTER_CLOUDWATCH_LOGS_"


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option and the fix."""


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
}


def env_name(option: str) -> str:
    return PREFIX + ENVIRONMENT[option][0]


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

    def __post_init__(self) -> None:
        if not self.log_group_name:
            raise ConfigError(
                f"log_group_name is required: pass log_group_name=... or set {env_name('log_group_name')}"
            )
        if not self.log_stream_name:
            raise ConfigError("log_stream_name must not be empty")
        if not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError(f"timeout={self.timeout!r}: expected a positive number of seconds")
        if not (isinstance(self.max_concurrency, int) and 1 <= self.max_concurrency <= 64):
            raise ConfigError(f"max_concurrency={self.max_concurrency!r}: expected a whole number from 1 to 64")
        if self.retention_days is not None and self.retention_days not in RETENTION_DAYS:
            allowed = ", ".join(map(str, RETENTION_DAYS))
            raise ConfigError(f"retention_days={self.retention_days!r}: CloudWatch accepts only {allowed}")
        if len(self.tags) > MAX_TAGS:
            raise ConfigError(f"tags: at most {MAX_TAGS} tags per log group, got {len(self.tags)}")
        if self.environments is not None and not self.environments:
            raise ConfigError("environments is empty: it would drop every record; leave it unset to keep all")


def resolve(arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> ExporterConfig:
    """Arguments that are not None win; then variables; then the defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for option, (suffix, parse) in ENVIRONMENT.items():
        value = arguments.get(option)
        if value is None:
            name = PREFIX + suffix
            text = environ.get(name)
            if text is None or text.strip() == "":
                continue
            value = parse(name, text)
        values[option] = value
    for option in ("environments", "redact_keys"):
        value = values.get(option)
        if isinstance(value, str):  # one name, or names separated by commas as in the variable
            values[option] = _set(option, value)
        elif value is not None:
            values[option] = frozenset(value)
    if "tags" in values:
        values["tags"] = dict(values["tags"])
    values.setdefault("log_group_name", "")
    return ExporterConfig(**values)
