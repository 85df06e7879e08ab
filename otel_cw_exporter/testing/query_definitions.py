"""Logs Insights query definitions, which moto lacks: kept in memory, answering as the real API does."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

#: The operations the layer answers itself (moto does not implement them).
QUERY_DEFINITION_OPERATIONS = frozenset({"PutQueryDefinition", "DescribeQueryDefinitions", "DeleteQueryDefinition"})
#: AWS's limits for query definitions.
MAX_QUERY_DEFINITION_NAME = 255
MAX_QUERY_STRING = 10_000
MAX_QUERY_DEFINITION_RESULTS = 1000


class QueryDefinitions:
    """Logs Insights query definitions in memory, keyed by id, answering as the API does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        #: At most this many definitions per DescribeQueryDefinitions page, whatever maxResults asks
        #: (None: as asked). AWS may answer with fewer than asked: a client must follow nextToken.
        self.page_size: int | None = None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.page_size = None

    def items(self) -> list[dict[str, Any]]:
        """Copies of every definition (all regions), each with its ``region``."""
        with self._lock:
            return [json.loads(json.dumps(item)) for item in self._items.values()]

    def handle(self, operation: str, payload: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) of one call."""
        with self._lock:
            if operation == "PutQueryDefinition":
                return self._put(payload, region)
            if operation == "DescribeQueryDefinitions":
                return self._describe(payload, region)
            return self._delete(payload, region)

    def _put(self, payload: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        name = payload.get("name")
        query = payload.get("queryString")
        problems = []
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_QUERY_DEFINITION_NAME:
            problems.append(
                _constraint("name", name, f"Member must have length less than or equal to {MAX_QUERY_DEFINITION_NAME}")
            )
        if not isinstance(query, str) or not 1 <= len(query) <= MAX_QUERY_STRING:
            problems.append(
                _constraint("queryString", query, f"Member must have length less than or equal to {MAX_QUERY_STRING}")
            )
        if problems:
            count = len(problems)
            message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems)
            return 400, {"__type": "InvalidParameterException", "message": message}
        ident = payload.get("queryDefinitionId")
        if ident is not None:
            found = self._items.get(str(ident))
            if found is None or found["region"] != region:
                return 400, {"__type": "ResourceNotFoundException", "message": "Query definition does not exist"}
        else:
            ident = str(uuid.uuid4())
        self._items[str(ident)] = {
            "queryLanguage": payload.get("queryLanguage") or "CWLI",
            "queryDefinitionId": str(ident),
            "name": name,
            "queryString": query,
            "lastModified": int(time.time() * 1000),
            "logGroupNames": list(payload.get("logGroupNames") or []),
            "region": region,
        }
        return 200, {"queryDefinitionId": str(ident)}

    def _describe(self, payload: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        asked = payload.get("maxResults", MAX_QUERY_DEFINITION_RESULTS)
        if not isinstance(asked, int) or not 1 <= asked <= MAX_QUERY_DEFINITION_RESULTS:
            return 400, {
                "__type": "InvalidParameterException",
                "message": "1 validation error detected: "
                + _constraint("maxResults", asked, f"Member must be between 1 and {MAX_QUERY_DEFINITION_RESULTS}"),
            }
        prefix = str(payload.get("queryDefinitionNamePrefix") or "")
        found = sorted(
            (
                {k: v for k, v in item.items() if k != "region"}
                for item in self._items.values()
                if item["region"] == region and item["name"].startswith(prefix)
            ),
            key=lambda item: (item["name"], item["queryDefinitionId"]),
        )
        try:
            start = int(payload.get("nextToken") or 0)
        except ValueError:
            return 400, {"__type": "InvalidParameterException", "message": "The specified nextToken is not valid"}
        size = min(asked, self.page_size or asked)
        page = found[start : start + size]
        answer: dict[str, Any] = {"queryDefinitions": page}
        if start + len(page) < len(found):
            answer["nextToken"] = str(start + len(page))
        return 200, answer

    def _delete(self, payload: dict[str, Any], region: str) -> tuple[int, dict[str, Any]]:
        ident = str(payload.get("queryDefinitionId") or "")
        found = self._items.get(ident)
        if found is None or found["region"] != region:
            return 400, {"__type": "ResourceNotFoundException", "message": "Query definition does not exist"}
        del self._items[ident]
        return 200, {"success": True}


def _constraint(member: str, value: Any, rule: str) -> str:
    shown = value if not isinstance(value, str) or len(value) <= 64 else value[:61] + "..."
    return f"Value '{shown}' at '{member}' failed to satisfy constraint: {rule}"
