"""Plain-text output of the command line: tables that fit the terminal, UTC times, one event as ``tail`` shows it."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any


def terminal_width() -> int:
    """The terminal's width (100 when not a terminal), at least 60."""
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def clock(ms: Any) -> str:
    """``HH:MM:SS.mmm`` (UTC) of a CloudWatch timestamp in milliseconds."""
    try:
        moment = datetime.fromtimestamp(int(ms) / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(ms)
    return moment.strftime("%H:%M:%S.%f")[:-3]


def day(ms: Any) -> str:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def stamp(ms: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm`` (UTC), as the Insights console shows ``@timestamp``."""
    return f"{day(ms)} {clock(ms)}".strip()


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None = None,
    wrap: int | None = None,
    indent: str = "  ",
    max_column: int = 40,
) -> list[str]:
    """A plain-text table that fits ``width``: column ``wrap`` wraps (newlines in it start lines), others are cut."""
    width = terminal_width() if width is None else width
    count = len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            longest = max((len(part) for part in cell.split("\n")), default=0)
            widths[index] = max(widths[index], longest)
    for index in range(count):
        if index != wrap:
            widths[index] = min(widths[index], max_column)
    if wrap is not None:
        others = sum(w for i, w in enumerate(widths) if i != wrap) + 2 * (count - 1) + len(indent)
        widths[wrap] = max(16, min(widths[wrap], width - others))

    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells))).rstrip()

    out = [line(headers)]
    for row in rows:
        columns: list[list[str]] = []
        for index, cell in enumerate(row):
            if index == wrap:
                wrapped: list[str] = []
                for part in cell.split("\n"):
                    wrapped.extend(textwrap.wrap(part, widths[index], break_on_hyphens=False) or [""])
                columns.append(wrapped)
            else:
                columns.append([cut(cell.replace("\n", " "), widths[index])])
        for number in range(max(len(c) for c in columns)):
            out.append(line([c[number] if number < len(c) else "" for c in columns]))
    return out


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def event_message(event: Mapping[str, Any]) -> str:
    """The event's ``message`` field, else its raw message (not JSON)."""
    message = event.get("message")
    if isinstance(message, str):
        return message
    return as_text(event.get("@message", ""))


def event_extra(event: Mapping[str, Any]) -> dict[str, Any]:
    extra = event.get("extra")
    return dict(extra) if isinstance(extra, Mapping) else {}


def exception_line(event: Mapping[str, Any]) -> str:
    """``Type: message`` of the event's exception, or ``""``."""
    exception = event.get("exception")
    if not isinstance(exception, Mapping):
        return ""
    kind = as_text(exception.get("type"))
    text = as_text(exception.get("message"))
    return f"{kind}: {text}" if kind and text else kind or text


_SHOWN_EXTRA = ("environment", "user_email", "user_verified", "log_type")
#: What ``user_email`` is when no one was found: no need to say it is unverified too.
_NOBODY = "unauthenticated"


def render_event(event: Mapping[str, Any], *, show_stream: bool = True, width: int | None = None) -> list[str]:
    """One event as ``tail`` prints it: a summary line, then its details indented and wrapped."""
    width = terminal_width() if width is None else width
    extra = event_extra(event)
    head = [clock(event.get("@timestamp"))]
    if show_stream:
        head.append(cut(str(event.get("@logStream", "")), 14).ljust(14))
    head.append(str(event.get("level", "") or "-").ljust(5))
    head.append((as_text(extra.get("log_type")) or "-").ljust(8))
    user = as_text(extra.get("user_email"))
    if user and user != _NOBODY and extra.get("user_verified") is False:
        user += " (unverified)"  # given by the calling code, not from a verified token
    if user:
        head.append(user)
    first = "  ".join(head) + "  " + event_message(event)
    details = [f"{key}={as_text(value)}" for key, value in extra.items() if key not in _SHOWN_EXTRA]
    problem = exception_line(event)
    if problem:
        details.append(f"exception={problem}")
    if event.get("trace_id"):
        details.append(f"trace={event['trace_id']}")
    lines = textwrap.wrap(first, width, subsequent_indent=" " * 14, break_on_hyphens=False) or [first]
    if details:
        lines.extend(
            textwrap.wrap(
                "  ".join(details),
                width,
                initial_indent=" " * 14,
                subsequent_indent=" " * 14,
                break_on_hyphens=False,
            )
        )
    return lines
