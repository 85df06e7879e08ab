"""Argument types of the command line: durations and times, trace ids, levels, poll intervals, the region
and the endpoint (by the exporter's own checks, so the command line and the exporter accept the same values).

Each raises ``argparse.ArgumentTypeError`` with what it expected, so a bad value is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import math
import re
import time
from datetime import datetime, timezone
from typing import Any

from otel_cw_exporter.config import endpoint_problem, region_problem, setting

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w)\s*$", re.IGNORECASE)


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since_ms(text: str, now_ms: int | None = None) -> int:
    """``10m``, ``90s``, ``2h``, ``1d`` ago, or an ISO-8601 time (UTC when it has no offset), in ms."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
        return now_ms - int(seconds * 1000)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (10m, 90s, 2h, 1d) or an ISO-8601 time (2026-11-24T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def since_type(text: str) -> str:
    since_ms(text)
    return text


_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


_XRAY = re.compile(r"^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$")


def trace_id_type(text: str) -> str:
    """A W3C trace id (32 hex digits) or an X-Ray one (``1-xxxxxxxx-yyyy...``), as 32 lowercase hex digits."""
    text = text.strip()
    if _HEX32.match(text):
        return text.lower()
    xray = _XRAY.match(text)
    if xray:
        return (xray.group(1) + xray.group(2)).lower()
    raise argparse.ArgumentTypeError(f"{text!r} is not a trace id (32 hex digits, or X-Ray's 1-xxxxxxxx-yyyy...)")


LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


LEVEL_RANK = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "WARNING": 13, "ERROR": 17, "FATAL": 21, "CRITICAL": 21}


def level_rank(level: Any) -> int:
    """The OTel severity of a level name (``ERROR2`` counts as ``ERROR``); 0 when unknown."""
    name = re.sub(r"\d+$", "", str(level or "").strip().upper())
    return LEVEL_RANK.get(name, 0)


def level_type(text: str) -> str:
    name = text.strip().upper()
    name = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(name, name)
    if name not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level: one of {', '.join(LEVELS)}")
    return name


def interval_type(text: str) -> float:
    """Seconds between polls: a number, at least :data:`MIN_INTERVAL`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= MIN_INTERVAL):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= {MIN_INTERVAL}")
    return value


#: The shortest --interval: more often than this only loads the endpoint (and the account's quota).
MIN_INTERVAL = 0.1


def region_type(text: str) -> str:
    """A region name boto3 accepts (botocore's rule); refused at parse, before any AWS call."""
    problem = region_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(
            f"{text!r} {problem}; fix: pass a region, as in {setting('--region', 'us-east-1')}"
        )
    return text


def endpoint_type(text: str) -> str:
    """An endpoint URL with a scheme (http or https) and a host; refused at parse, before any AWS call."""
    found = endpoint_problem(text)
    if found:
        problem, instead = found
        raise argparse.ArgumentTypeError(f"{text!r} {problem}; fix: pass {setting('--endpoint-url', instead)}")
    return text
