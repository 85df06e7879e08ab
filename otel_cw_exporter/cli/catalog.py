"""Saved CloudWatch Logs Insights queries for the events this exporter writes, and installing them.

The catalog is data: the two saved queries of the watchtower-based setup this exporter replaces, verbatim
(they run unchanged on its events), and a few more that the event's fields make possible.
``otel-cw-exporter queries install`` puts them as Insights query definitions named
``otel-cw-exporter/<log group>/<title>`` (the console shows one folder per group), updating its own
definitions in place and never touching a definition whose name is not one of those; the demo evaluates
them locally over the events it reads back. AWS allows 255 characters in a definition's name: a log
group too long for that is shortened to its start, ``~`` and 8 hex digits of its hash (always the same
for the same group, so installing again finds the definitions it made).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: Every definition we own starts with this; only exact names of the catalog are ever written.
PREFIX = "otel-cw-exporter/"
#: The most characters AWS accepts in a query definition's name.
MAX_DEFINITION_NAME = 255
#: Room kept for a query's title in a name: the catalog's longest title, with some to spare.
TITLE_ROOM = 64
_HASH_DIGITS = 8


def group_part(group: str, title_length: int = TITLE_ROOM) -> str:
    """How ``group`` appears in our definitions' names: itself, or, when the name would pass AWS's 255
    characters, its start, ``~`` (never in a log group name) and 8 hex digits of its SHA-256."""
    room = MAX_DEFINITION_NAME - len(PREFIX) - 1 - max(title_length, TITLE_ROOM)
    if len(group) <= room:
        return group
    digest = hashlib.sha256(group.encode("utf-8")).hexdigest()[:_HASH_DIGITS]
    return f"{group[: room - _HASH_DIGITS - 1]}~{digest}"


@dataclass(frozen=True)
class SavedQuery:
    """One saved query. ``placeholder`` is a string literal in the query the user replaces before running."""

    key: str
    title: str
    query: str
    origin: Literal["verbatim", "added"]
    """verbatim: saved as the watchtower-based setup had it; added: new with this exporter."""
    placeholder: str | None = None
    description: str = ""

    def definition_name(self, group: str) -> str:
        """The query definition's name for one log group: ``otel-cw-exporter/<group>/<title>``, the group
        shortened (see :func:`group_part`) so that the name keeps within AWS's 255 characters."""
        return f"{PREFIX}{group_part(group, len(self.title))}/{self.title}"

    def with_value(self, value: str) -> str:
        """The query with its placeholder replaced by ``value`` (a string literal, quotes escaped)."""
        if self.placeholder is None:
            return self.query
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return self.query.replace(f'"{self.placeholder}"', f'"{escaped}"')


SECURITY_EVENTS = SavedQuery(
    key="security-events",
    title="Security events by user in the last 24h",
    origin="verbatim",
    description="run it over the last 24 hours",
    query=(
        "fields @timestamp, extra.user_email, message, extra.resource_type\n"
        '| filter extra.log_type = "Security"\n'
        "| sort @timestamp desc\n"
        "| limit 100"
    ),
)

CRITICAL_ERRORS = SavedQuery(
    key="critical-errors",
    title="Errors in critical operations",
    origin="verbatim",
    description="",
    query=('fields @timestamp, message, extra.operation\n| filter level = "ERROR"\n| sort @timestamp desc | limit 50'),
)

USER_AUDIT_TRAIL = SavedQuery(
    key="user-audit-trail",
    title="Audit trail of one user",
    origin="added",
    placeholder="USER_EMAIL",
    description='every event of one user: replace "USER_EMAIL" with the address',
    query=(
        "fields @timestamp, extra.log_type, message, extra.operation, extra.resource_id, trace_id\n"
        '| filter extra.user_email = "USER_EMAIL"\n'
        "| sort @timestamp desc\n"
        "| limit 1000"
    ),
)

TRACE_EVENTS = SavedQuery(
    key="trace-events",
    title="Events of one trace id",
    origin="added",
    placeholder="TRACE_ID",
    description='every event of one request: replace "TRACE_ID" with its 32-hex trace id',
    query=(
        "fields @timestamp, @logStream, level, message, extra.log_type, extra.user_email, span_id\n"
        '| filter trace_id = "TRACE_ID"\n'
        "| sort @timestamp asc\n"
        "| limit 1000"
    ),
)

EVENTS_PER_USER = SavedQuery(
    key="events-per-user",
    title="Security and audit events per user",
    origin="added",
    description="who did how much: counts of Security and Audit events by user and type",
    query=(
        "filter ispresent(extra.log_type)\n"
        "| stats count(*) as events by extra.user_email, extra.log_type\n"
        "| sort events desc"
    ),
)

#: The catalog, in the order it is shown and installed.
SAVED_QUERIES: tuple[SavedQuery, ...] = (
    SECURITY_EVENTS,
    CRITICAL_ERRORS,
    USER_AUDIT_TRAIL,
    TRACE_EVENTS,
    EVENTS_PER_USER,
)
#: The two queries the watchtower-based setup had saved, kept verbatim.
VERBATIM_QUERIES: tuple[SavedQuery, ...] = tuple(q for q in SAVED_QUERIES if q.origin == "verbatim")


# --------------------------------------------------------------------------- query definitions on AWS

Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Installed:
    """What ``install`` did for one (query, group)."""

    name: str
    group: str
    title: str
    action: Action
    definition_id: str
    duplicates: int = 0
    """Other definitions with the same name (left alone; the first one is kept up to date)."""


@dataclass(frozen=True)
class Listed:
    """One definition of ours found in the account, compared with the catalog."""

    name: str
    group: str
    title: str
    definition_id: str
    log_groups: tuple[str, ...]
    status: Literal["current", "outdated", "unknown"]
    """current: as the catalog says; outdated: ``queries install`` would update it; unknown: not in
    the catalog (from another version), never touched."""


def describe_ours(client: Any, prefix: str = PREFIX) -> list[dict[str, Any]]:
    """Every query definition whose name starts with ``prefix`` (all pages)."""
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"queryDefinitionNamePrefix": prefix, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = client.describe_query_definitions(**kwargs)
        found.extend(page.get("queryDefinitions", []))
        token = page.get("nextToken")
        if not token:
            return found


def _wanted(groups: Sequence[str], queries: Iterable[SavedQuery]) -> dict[str, tuple[SavedQuery, str]]:
    return {query.definition_name(group): (query, group) for group in groups for query in queries}


def _is_current(definition: Mapping[str, Any], query: SavedQuery, group: str) -> bool:
    return definition.get("queryString") == query.query and list(definition.get("logGroupNames") or []) == [group]


def install(
    client: Any, groups: Sequence[str], queries: Sequence[SavedQuery] = SAVED_QUERIES, *, dry_run: bool = False
) -> list[Installed]:
    """Create or update our definitions for each group; idempotent; other definitions are never written.

    With ``dry_run`` nothing is written and the results say what would be done.
    """
    by_name: dict[str, list[dict[str, Any]]] = {}
    for definition in describe_ours(client):
        by_name.setdefault(str(definition.get("name", "")), []).append(definition)
    results: list[Installed] = []
    for name, (query, group) in _wanted(groups, queries).items():
        existing = by_name.get(name, [])
        if existing and _is_current(existing[0], query, group):
            results.append(
                Installed(
                    name, group, query.title, "unchanged", str(existing[0]["queryDefinitionId"]), len(existing) - 1
                )
            )
            continue
        kwargs: dict[str, Any] = {"name": name, "queryString": query.query, "logGroupNames": [group]}
        if existing:
            kwargs["queryDefinitionId"] = existing[0]["queryDefinitionId"]
        action: Action = "updated" if existing else "created"
        if dry_run:
            definition_id = str(existing[0]["queryDefinitionId"]) if existing else ""
        else:
            definition_id = str(client.put_query_definition(**kwargs)["queryDefinitionId"])
        results.append(Installed(name, group, query.title, action, definition_id, max(0, len(existing) - 1)))
    return results


def list_ours(client: Any, groups: Sequence[str] | None = None) -> list[Listed]:
    """Our definitions in the account (only those of ``groups`` when given), each compared with the catalog."""
    known = {query.title: query for query in SAVED_QUERIES}
    parts = {group_part(group): group for group in groups or ()}
    listed: list[Listed] = []
    for definition in describe_ours(client):
        name = str(definition.get("name", ""))
        log_groups = tuple(str(g) for g in definition.get("logGroupNames") or ())
        part, _, title = name[len(PREFIX) :].rpartition("/")
        # A shortened name stands for the group it was made from: the asked one, else its own log group.
        group = parts.get(part) or next((g for g in log_groups if group_part(g) == part), part)
        if groups is not None and group not in groups:
            continue
        query = known.get(title)
        status: Literal["current", "outdated", "unknown"]
        if query is None:
            status = "unknown"
        elif _is_current(definition, query, group):
            status = "current"
        else:
            status = "outdated"
        listed.append(Listed(name, group, title, str(definition.get("queryDefinitionId", "")), log_groups, status))
    order = {query.title: index for index, query in enumerate(SAVED_QUERIES)}
    listed.sort(key=lambda item: (item.group, order.get(item.title, len(order)), item.title))
    return listed


def missing(listed: Sequence[Listed], groups: Sequence[str]) -> list[tuple[str, SavedQuery]]:
    """(group, query) of the catalog definitions for ``groups`` that are not installed."""
    present = {item.name for item in listed}
    return [(group, query) for name, (query, group) in _wanted(groups, SAVED_QUERIES).items() if name not in present]
