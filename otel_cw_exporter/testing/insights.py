"""Run CloudWatch Logs Insights queries locally, over events already parsed from JSON.

Why: the local CloudWatch Logs endpoint used by the tests and the demo (moto) cannot run Insights
queries (it ignores ``filter`` and never parses JSON fields), yet our users' saved queries must keep
working. This module evaluates those queries over the events themselves. It is a **local
approximation** of a documented subset of the Logs Insights query language, not a reimplementation:

* Commands: ``fields`` (with optional ``as`` aliases), ``display``, ``filter`` (and its alias
  ``where``), ``sort``, ``limit``, ``stats`` (``count``, ``count_distinct``, ``sum``, ``avg``, ``min``,
  ``max`` ``by`` fields) and ``dedup``, separated by ``|`` or by a newline that starts a command.
  ``#`` starts a comment that runs to the end of its line. Anything else (``parse``, functions such as
  ``bin`` or ``strlen``, arithmetic) raises :class:`InsightsQueryError` naming it.
* Filters: ``= != < <= > >=``, ``like "substring"``, ``like /regex/`` and ``=~ /regex/`` (Python's
  ``re``, searched anywhere), ``not like``, ``in [...]``, ``not in``, ``not``, ``and``, ``or``,
  parentheses, ``ispresent(f)``, ``isempty(f)``, ``isblank(f)``; double- or single-quoted strings,
  numbers, and backquoted field names for odd characters.
* Fields are discovered like Insights does for JSON: nested keys are flattened with dots
  (``extra.log_type``), keys that contain dots themselves stay reachable the same way
  (``resource.service.name``), list items by index (``tags.0``). JSON ``null`` counts as absent. When
  two spellings flatten to the same name, the later one wins. Insights' caps (it discovers at most 200
  fields per event, and only in JSON messages) are not reproduced.
* A comparison on a missing field is false, ``!=``, ``not like`` and ``not in`` included; only the
  ``not`` operator turns it true. String comparisons are exact and case-sensitive; two values compare
  as numbers when both are numeric and at least one is a JSON number or a number literal (so
  ``status = 200`` matches ``"200"``, while ``"1.0" = "1.00"`` stays false).
* ``sort`` follows Insights' documented "natural" order: non-number values first, compared chunk by
  chunk, then number values numerically; descending is the reverse. Fields missing from a row sort
  last either way (Insights does not document this case).
* Booleans read as ``"true"``/``"false"``. ``stats`` groups events missing a ``by`` field together, in
  first-seen order, and returns no rows for no events; ``dedup`` never drops a row missing its fields.
* Rows keep the events' own values (Insights' API returns every value as a string and formats
  ``@timestamp``); a row holds only the fields present in it, like Insights' results. Without ``sort``
  rows keep the input order; without ``limit`` at most 10,000 come back, Insights' own maximum.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "InsightsQueryError",
    "Query",
    "event_from_log_event",
    "flatten",
    "parse",
    "run",
]

Scalar: TypeAlias = "str | int | float | bool"
"""A discovered field's value: a JSON leaf."""
Row: TypeAlias = "dict[str, Scalar]"

#: Insights returns at most this many rows, and ``limit`` cannot ask for more.
MAX_ROWS = 10_000
#: What Insights shows when a query selects no fields.
DEFAULT_COLUMNS = ("@timestamp", "@message")

SUPPORTED_COMMANDS = ("fields", "display", "filter", "where", "sort", "limit", "stats", "dedup")
#: Insights commands we recognise only to refuse them by name, and to split commands at newlines.
UNSUPPORTED_COMMANDS = (
    "parse",
    "unmask",
    "pattern",
    "diff",
    "anomaly",
    "filterindex",
    "source",
    "unnest",
    "lookup",
    "addtotals",
)
_COMMANDS = frozenset(SUPPORTED_COMMANDS + UNSUPPORTED_COMMANDS)
_PREDICATES = ("ispresent", "isempty", "isblank")
_AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max")
_OPERAND_KEYWORDS = frozenset({"and", "or", "not", "like", "in"})
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


class InsightsQueryError(ValueError):
    """A query this module cannot run: bad syntax, or Insights syntax outside the supported subset."""


# --------------------------------------------------------------------------- the parsed query


@dataclass(frozen=True)
class Field:
    """A field reference, by its flattened Insights name."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A quoted string or a number written in the query."""

    value: str | int | float


Operand: TypeAlias = "Field | Literal"


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of ``= != < <= > >=``."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True)
class Like:
    """``operand [not] like "substring"`` or ``like /regex/`` (also ``=~ /regex/``)."""

    operand: Operand
    pattern: str | re.Pattern[str]
    negated: bool = False


@dataclass(frozen=True)
class In:
    """``operand [not] in [literal, ...]``."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class Predicate:
    """``ispresent(f)``, ``isempty(f)`` or ``isblank(f)``."""

    function: str
    field: str


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class And:
    """All of ``items``; flat rather than nested so long chains cannot exhaust the stack."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


Expr: TypeAlias = "Compare | Like | In | Predicate | Not | And | Or"


@dataclass(frozen=True)
class Fields:
    """``fields f [as alias], ...``: adds columns and lets later commands use the aliases."""

    items: tuple[tuple[str, str], ...]
    """(source field, column name) pairs; the name is the source unless aliased."""


@dataclass(frozen=True)
class Display:
    """``display f, ...``: the columns of the result; the last ``display`` wins."""

    fields: tuple[str, ...]


@dataclass(frozen=True)
class Filter:
    expr: Expr


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[str, bool], ...]
    """(field, descending) pairs, most significant first."""


@dataclass(frozen=True)
class Limit:
    count: int


@dataclass(frozen=True)
class Aggregate:
    function: str
    field: str | None
    """None for ``count(*)``."""
    name: str
    """The result column: the alias, else the expression as Insights names it (``count(*)``)."""


@dataclass(frozen=True)
class Stats:
    aggregates: tuple[Aggregate, ...]
    by: tuple[str, ...]


@dataclass(frozen=True)
class Dedup:
    fields: tuple[str, ...]


Command: TypeAlias = "Fields | Display | Filter | Sort | Limit | Stats | Dedup"


@dataclass(frozen=True)
class Query:
    """A parsed query: parse once, :func:`run` over many event lists."""

    commands: tuple[Command, ...]
    text: str


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str
    """ident, field (backquoted), string, number, regex, op, punct, pipe, newline."""
    text: str
    value: str | int | float
    line: int
    column: int
    width: int
    """Characters in the query, quotes included: where an error after this token points."""

    def describe(self) -> str:
        return "a newline" if self.kind == "newline" else repr(self.text)


_IDENT = re.compile(r"(?:@|[^\W\d])[\w.@]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_OPERATORS = ("!=", "<=", ">=", "=~", "=", "<", ">")
_PUNCT = "()[],*"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _error(message: str, line: int, column: int) -> InsightsQueryError:
    return InsightsQueryError(f"{message} (line {line}, column {column})")


def _tokenize(text: str) -> tuple[list[_Token], bool]:
    """Tokens of ``text``, and whether it had comments (they are dropped here)."""
    tokens: list[_Token] = []
    had_comment = False
    i, line, line_start = 0, 1, 0
    while i < len(text):
        char = text[i]
        column = i - line_start + 1
        if char == "\n":
            tokens.append(_Token("newline", "\n", "\n", line, column, 1))
            i += 1
            line, line_start = line + 1, i
        elif char.isspace():
            i += 1
        elif char == "#":
            had_comment = True
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif char in "\"'`":
            kind = "field" if char == "`" else "string"
            value, end = _scan_quoted(text, i, line, column)
            tokens.append(_Token(kind, value, value, line, column, end - i))
            i = end
        elif char == "/" and _is_division(tokens):
            raise _error("unsupported operator '/': arithmetic is not supported", line, column)
        elif char == "/":
            pattern, end = _scan_regex(text, i, line, column)
            tokens.append(_Token("regex", pattern, pattern, line, column, end - i))
            i = end
        elif match := _NUMBER.match(text, i):
            raw = match.group()
            number: int | float = float(raw) if "." in raw else int(raw)
            tokens.append(_Token("number", raw, number, line, column, len(raw)))
            i = match.end()
        elif match := _IDENT.match(text, i):
            tokens.append(_Token("ident", match.group(), match.group(), line, column, len(match.group())))
            i = match.end()
        elif char == "|":
            tokens.append(_Token("pipe", "|", "|", line, column, 1))
            i += 1
        elif op := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            tokens.append(_Token("op", op, op, line, column, len(op)))
            i += len(op)
        elif char in _PUNCT:
            tokens.append(_Token("punct", char, char, line, column, 1))
            i += 1
        elif char in "+-%^":
            raise _error(f"unsupported operator {char!r}: arithmetic is not supported", line, column)
        else:
            raise _error(f"unexpected character {char!r}", line, column)
    return tokens, had_comment


def _is_division(tokens: list[_Token]) -> bool:
    """Whether a ``/`` here divides rather than opens a regex: it follows a value, not ``like``/``=~``.

    ``parse @message /regex/`` is let through so that the parser can refuse ``parse`` by name.
    """
    if not tokens or tokens[-1].kind not in ("ident", "field", "number"):
        return False
    if tokens[-1].kind == "ident" and tokens[-1].text.lower() == "like":
        return False
    start = next((i for i in range(len(tokens) - 1, -1, -1) if tokens[i].kind == "pipe"), -1) + 1
    words = [t.text.lower() for t in tokens[start:] if t.kind == "ident"]
    return "parse" not in words


def _scan_quoted(text: str, start: int, line: int, column: int) -> tuple[str, int]:
    """A quoted string (or backquoted field name) from ``start``; backslash escapes the quote."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text) and text[i] != "\n":
        char = text[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\\" and i + 1 < len(text) and text[i + 1] != "\n":
            escaped = text[i + 1]
            out.append(_ESCAPES.get(escaped, "\\" + escaped))
            i += 2
        else:
            out.append(char)
            i += 1
    what = "field name" if quote == "`" else "string"
    raise _error(f"unterminated {what}: missing closing {quote}", line, column)


def _scan_regex(text: str, start: int, line: int, column: int) -> tuple[str, int]:
    """A ``/regex/`` from ``start``; ``\\/`` stands for a slash inside it."""
    i = start + 1
    while i < len(text) and text[i] != "\n":
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
        elif text[i] == "/":
            return text[start + 1 : i], i + 1
        else:
            i += 1
    raise _error("unterminated regular expression: missing closing /", line, column)


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over one command's tokens (the command word already consumed)."""

    def __init__(self, tokens: list[_Token], command: str, head: _Token) -> None:
        self.tokens = tokens
        self.pos = 0
        self.command = command
        self.head = head

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def error(self, message: str, token: _Token | None = None) -> InsightsQueryError:
        token = token or self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else self.head
            return _error(
                f"{message} in {self.command}, found the end of the command",
                last.line,
                last.column + last.width,
            )
        return _error(f"{message} in {self.command}, found {token.describe()}", token.line, token.column)

    def next(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error(f"expected {expected}")
        self.pos += 1
        return token

    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def is_word(self, *words: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "ident" and token.text.lower() in words

    def is_punct(self, char: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "punct" and token.text == char

    def expect_punct(self, char: str) -> None:
        if not self.is_punct(char):
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def finish(self) -> None:
        if not self.at_end():
            raise self.error("unexpected token")

    def field_name(self, what: str = "a field name") -> str:
        token = self.next(what)
        if token.kind == "field":
            return str(token.value)
        if token.kind == "ident":
            if self.is_punct("("):
                raise _error(f"unsupported function {token.text!r} in {self.command}", token.line, token.column)
            return token.text
        raise self.error(f"expected {what}", token)

    def field_list(self) -> list[str]:
        names = [self.field_name()]
        while self.is_punct(","):
            self.pos += 1
            names.append(self.field_name())
        return names

    # ---- filter expressions: or < and < not < comparison

    def expr(self) -> Expr:
        items = [self.conjunction()]
        while self.is_word("or"):
            self.pos += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Expr:
        items = [self.negation()]
        while self.is_word("and"):
            self.pos += 1
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Expr:
        if self.is_word("not"):
            self.pos += 1
            return Not(self.negation())
        if self.is_punct("("):
            self.pos += 1
            inner = self.expr()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> Expr:
        token = self.peek()
        if token is not None and token.kind == "ident" and self.is_punct("(", offset=1):
            return self.predicate(token)
        left = self.operand()
        negated = False
        if self.is_word("not") and self.is_word("like", "in", offset=1):
            self.pos += 1
            negated = True
        token = self.next("an operator")
        if token.kind == "ident" and token.text.lower() == "like":
            return Like(left, self.pattern(), negated)
        if token.kind == "ident" and token.text.lower() == "in":
            return In(left, self.literal_list(), negated)
        if token.kind == "op" and token.text == "=~":
            following = self.peek()
            if following is None or following.kind != "regex":
                raise self.error("expected a /regex/ after =~")
            return Like(left, self.pattern())
        if token.kind == "op" and token.text in _COMPARISONS:
            following = self.peek()
            if token.text == "=" and following is not None and following.kind == "op" and following.text == "=":
                raise _error(f"'==' is not Insights syntax, use '=' in {self.command}", token.line, token.column)
            return Compare(token.text, left, self.operand())
        raise self.error("expected an operator (=, !=, <, <=, >, >=, like, in)", token)

    def predicate(self, name: _Token) -> Predicate:
        function = name.text.lower()
        if function not in _PREDICATES:
            raise _error(f"unsupported function {name.text!r} in {self.command}", name.line, name.column)
        self.pos += 2
        field = self.field_name()
        self.expect_punct(")")
        return Predicate(function, field)

    def operand(self) -> Operand:
        token = self.next("a field, string or number")
        if token.kind in ("string", "number"):
            return Literal(token.value)
        if token.kind == "field":
            return Field(str(token.value))
        if token.kind == "ident" and token.text.lower() not in _OPERAND_KEYWORDS:
            if self.is_punct("("):
                raise _error(f"unsupported function {token.text!r} in {self.command}", token.line, token.column)
            return Field(token.text)
        raise self.error("expected a field, string or number", token)

    def pattern(self) -> str | re.Pattern[str]:
        token = self.next('a "string" or /regex/')
        if token.kind == "string":
            return str(token.value)
        if token.kind == "regex":
            try:
                return re.compile(str(token.value))
            except re.error as exc:
                raise _error(f"invalid regular expression /{token.value}/: {exc}", token.line, token.column) from None
        raise self.error('expected a "string" or /regex/', token)

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("[")
        values: list[Literal] = []
        while not self.is_punct("]"):
            if values:
                self.expect_punct(",")
            token = self.next("a string or number")
            if token.kind not in ("string", "number"):
                raise self.error("expected a string or number", token)
            values.append(Literal(token.value))
        self.pos += 1
        return tuple(values)

    # ---- commands

    def fields(self) -> Fields:
        items: list[tuple[str, str]] = []
        while True:
            source = self.field_name()
            name = source
            if self.is_word("as"):
                self.pos += 1
                name = self.field_name("an alias")
            items.append((source, name))
            if not self.is_punct(","):
                break
            self.pos += 1
        self.finish()
        return Fields(tuple(items))

    def sort(self) -> Sort:
        keys: list[tuple[str, bool]] = []
        while True:
            name = self.field_name()
            descending = False
            if self.is_word("asc", "desc"):
                descending = self.next("asc or desc").text.lower() == "desc"
            keys.append((name, descending))
            if not self.is_punct(","):
                break
            self.pos += 1
        self.finish()
        return Sort(tuple(keys))

    def limit(self) -> Limit:
        token = self.next("a number of rows")
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 1:
            raise self.error("expected a positive whole number of rows", token)
        if token.value > MAX_ROWS:
            raise _error(f"limit {token.value} is above Insights' maximum of {MAX_ROWS}", token.line, token.column)
        self.finish()
        return Limit(token.value)

    def stats(self) -> Stats:
        aggregates = [self.aggregate()]
        while self.is_punct(","):
            self.pos += 1
            aggregates.append(self.aggregate())
        by: list[str] = []
        if self.is_word("by"):
            self.pos += 1
            by = self.field_list()
        self.finish()
        names = [a.name for a in aggregates] + by
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise _error(f"stats names the column {duplicate!r} twice", self.head.line, self.head.column)
        return Stats(tuple(aggregates), tuple(by))

    def aggregate(self) -> Aggregate:
        token = self.next("an aggregate function such as count(*)")
        function = token.text.lower()
        if token.kind != "ident" or not self.is_punct("("):
            raise self.error("expected an aggregate function such as count(*)", token)
        if function not in _AGGREGATES:
            raise _error(
                f"unsupported stats function {token.text!r} (supported: {', '.join(_AGGREGATES)})",
                token.line,
                token.column,
            )
        self.pos += 1
        field: str | None = None
        if self.is_punct("*") or (self.is_punct(")") and function == "count"):
            if function != "count":
                raise self.error(f"{function}() needs a field")
            label = ""
            if self.is_punct("*"):
                self.pos += 1
                label = "*"
        else:
            field = self.field_name()
            label = field
        self.expect_punct(")")
        name = f"{function}({label})"
        if self.is_word("as"):
            self.pos += 1
            name = self.field_name("an alias")
        return Aggregate(function, field, name)


def _split_commands(tokens: list[_Token], had_comment: bool) -> list[list[_Token]]:
    """Commands are separated by ``|``, or by a newline when the next line starts with a command."""
    segments: list[list[_Token]] = [[]]
    for index, token in enumerate(tokens):
        if token.kind == "pipe":
            if not segments[-1]:
                hint = " (a '#' comment runs to the end of its line)" if had_comment else ""
                raise _error(f"empty command before '|'{hint}", token.line, token.column)
            segments.append([])
        elif token.kind == "newline":
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            starts_command = following is not None and following.kind == "ident" and following.text.lower() in _COMMANDS
            if starts_command and segments[-1]:
                segments.append([])
        else:
            segments[-1].append(token)
    if not segments[-1]:
        if len(segments) == 1:
            raise InsightsQueryError("the query has no commands")
        last = next(t for t in reversed(tokens) if t.kind == "pipe")
        raise _error("empty command after '|'", last.line, last.column)
    return segments


def _parse_command(tokens: list[_Token]) -> Command:
    head, rest = tokens[0], tokens[1:]
    name = head.text.lower()
    if head.kind != "ident":
        raise _error(f"expected a command, found {head.describe()}", head.line, head.column)
    if name not in _COMMANDS:
        raise _error(
            f"unsupported command {head.text!r} (supported: {', '.join(SUPPORTED_COMMANDS)})",
            head.line,
            head.column,
        )
    if name in UNSUPPORTED_COMMANDS:
        raise _error(
            f"unsupported command {head.text!r}: this local approximation of Insights runs only "
            + ", ".join(SUPPORTED_COMMANDS),
            head.line,
            head.column,
        )
    parser = _Parser(rest, name, head)
    if name == "fields":
        return parser.fields()
    if name == "display":
        display = Display(tuple(parser.field_list()))
        parser.finish()
        return display
    if name in ("filter", "where"):
        expr = parser.expr()
        parser.finish()
        return Filter(expr)
    if name == "sort":
        return parser.sort()
    if name == "limit":
        return parser.limit()
    if name == "stats":
        return parser.stats()
    dedup = Dedup(tuple(parser.field_list()))
    parser.finish()
    return dedup


def parse(query: str) -> Query:
    """Parse an Insights query, refusing loudly what this local approximation cannot run.

    Raises :class:`InsightsQueryError` naming the offending command, function or token and where it is.
    """
    tokens, had_comment = _tokenize(query)
    segments = _split_commands(tokens, had_comment)
    try:
        return Query(tuple(_parse_command(segment) for segment in segments), query)
    except RecursionError:
        raise InsightsQueryError("the query nests parentheses or 'not' too deeply") from None


# --------------------------------------------------------------------------- values


def flatten(event: Mapping[str, Any]) -> Row:
    """The fields Insights would discover in ``event``: dotted names to JSON leaves.

    Nested mappings join their keys with dots and lists use indexes, so ``{"resource":
    {"service.name": "x"}}`` and ``{"resource": {"service": {"name": "x"}}}`` both give
    ``resource.service.name``. ``None`` is dropped; other non-JSON leaves become ``str(value)``.
    """
    out: Row = {}
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in reversed(list(event.items()))]
    while stack:
        key, value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((f"{key}.{k}", v) for k, v in reversed(list(value.items())))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{key}.{i}", v) for i, v in reversed(list(enumerate(value))))
        elif value is None:
            continue
        elif isinstance(value, (str, int, float, bool)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


def event_from_log_event(
    log_event: Mapping[str, Any], log_group: str | None = None, log_stream: str | None = None
) -> dict[str, Any]:
    """An event for :func:`run` from one ``GetLogEvents``/``FilterLogEvents`` item.

    The message's JSON object (if it is one) plus Insights' system fields ``@timestamp``,
    ``@message``, ``@ingestionTime``, ``@logStream`` (from the item, else ``log_stream``) and ``@log``.
    """
    message = log_event.get("message", "")
    event: dict[str, Any] = {}
    if isinstance(message, str):
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            event.update(parsed)
    event["@timestamp"] = log_event.get("timestamp")
    event["@message"] = message
    system = {
        "@ingestionTime": log_event.get("ingestionTime"),
        "@logStream": log_event.get("logStreamName", log_stream),
        "@log": log_group,
    }
    event.update({key: value for key, value in system.items() if value is not None})
    return event


_NUMERIC_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _is_number(value: Scalar) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Scalar) -> int | float | None:
    """The value as a number: a finite JSON number, or a string holding only a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _NUMERIC_TEXT.fullmatch(value):
        return float(value) if "." in value else int(value)
    return None


def _text(value: Scalar) -> str:
    """How a value reads as a string: JSON spelling for numbers and booleans."""
    return value if isinstance(value, str) else json.dumps(value)


def _compare(left: Scalar, right: Scalar) -> int:
    """-1, 0 or 1. Numeric when both sides are numeric and one is an actual number, else textual."""
    if _is_number(left) or _is_number(right):
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return (a > b) - (a < b)
    a_text, b_text = _text(left), _text(right)
    return (a_text > b_text) - (a_text < b_text)


_MISSING = object()


def _value(operand: Operand, row: Row) -> Any:
    if isinstance(operand, Literal):
        return operand.value
    return row.get(operand.name, _MISSING)


_COMPARATORS: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0,
    "!=": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _matches(expr: Expr, row: Row) -> bool:
    """Whether ``row`` passes ``expr``; any test on a missing field is false, negated ones too."""
    if isinstance(expr, And):
        return all(_matches(item, row) for item in expr.items)
    if isinstance(expr, Or):
        return any(_matches(item, row) for item in expr.items)
    if isinstance(expr, Not):
        return not _matches(expr.expr, row)
    if isinstance(expr, Predicate):
        if expr.function == "ispresent":
            return expr.field in row
        value = row.get(expr.field)
        text = "" if value is None else _text(value)
        return text == "" if expr.function == "isempty" else text.strip() == ""
    if isinstance(expr, Compare):
        left, right = _value(expr.left, row), _value(expr.right, row)
        if left is _MISSING or right is _MISSING:
            return False
        return _COMPARATORS[expr.op](_compare(left, right))
    value = _value(expr.operand, row)
    if value is _MISSING:
        return False
    if isinstance(expr, Like):
        text = _text(value)
        pattern = expr.pattern
        found = pattern in text if isinstance(pattern, str) else pattern.search(text) is not None
        return found != expr.negated
    found = any(_compare(value, literal.value) == 0 for literal in expr.values)
    return found != expr.negated


# --------------------------------------------------------------------------- sort


_CHUNK = re.compile(r"[0-9]+|[^0-9]+")
_DIGITS = "0123456789"


def _natural_compare(a: str, b: str) -> int:
    """Insights' order for non-number values: runs of digits by length then value, the rest by code point."""
    for x, y in zip(_CHUNK.findall(a), _CHUNK.findall(b), strict=False):
        if x == y:
            continue
        if x[0] in _DIGITS and y[0] in _DIGITS and len(x) != len(y):
            return -1 if len(x) < len(y) else 1
        return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))  # equal chunks so far: one is a prefix of the other


def _sort_compare(a: Scalar, b: Scalar) -> int:
    """Ascending order of two present values: non-numbers (naturally) before numbers (numerically)."""
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        by_number = (x > y) - (x < y)
        if by_number:
            return by_number
        return (_text(a) > _text(b)) - (_text(a) < _text(b))
    if x is not None:
        return 1
    if y is not None:
        return -1
    return _natural_compare(_text(a), _text(b))


def _sort(rows: list[Row], keys: Sequence[tuple[str, bool]]) -> list[Row]:
    def compare(r1: Row, r2: Row) -> int:
        for name, descending in keys:
            present1, present2 = name in r1, name in r2
            if not (present1 and present2):
                if present1 != present2:
                    return -1 if present1 else 1  # missing last, whatever the direction
                continue
            order = _sort_compare(r1[name], r2[name])
            if order:
                return -order if descending else order
        return 0

    return sorted(rows, key=functools.cmp_to_key(compare))


# --------------------------------------------------------------------------- stats, dedup, fields


def _group_key(row: Row, fields: Sequence[str]) -> tuple[str | None, ...]:
    return tuple(_text(row[f]) if f in row else None for f in fields)


def _aggregate(aggregate: Aggregate, rows: list[Row]) -> Scalar | None:
    if aggregate.field is None:
        return len(rows)
    values = [row[aggregate.field] for row in rows if aggregate.field in row]
    if aggregate.function == "count":
        return len(values)
    if aggregate.function == "count_distinct":
        return len({_text(v) for v in values})
    numbers = [n for n in map(_number, values) if n is not None]
    if not numbers:
        return None
    if aggregate.function == "sum":
        return sum(numbers)
    if aggregate.function == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if aggregate.function == "min" else max(numbers)


def _stats(command: Stats, rows: list[Row]) -> list[Row]:
    """One row per group (first-seen order): the ``by`` fields, then each aggregate."""
    groups: dict[tuple[str | None, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(_group_key(row, command.by), []).append(row)
    out: list[Row] = []
    for members in groups.values():
        result: Row = {f: members[0][f] for f in command.by if f in members[0]}
        for aggregate in command.aggregates:
            value = _aggregate(aggregate, members)
            if value is not None:
                result[aggregate.name] = value
        out.append(result)
    return out


def _dedup(command: Dedup, rows: list[Row]) -> list[Row]:
    """Keep the first row of each combination; rows missing one of the fields are all kept."""
    seen: set[tuple[str | None, ...]] = set()
    out: list[Row] = []
    for row in rows:
        if all(f in row for f in command.fields):
            key = _group_key(row, command.fields)
            if key in seen:
                continue
            seen.add(key)
        out.append(row)
    return out


def _fields(command: Fields, rows: list[Row]) -> list[Row]:
    """Materialise aliases so later commands (and the result) can use them."""
    aliases = [(source, name) for source, name in command.items if source != name]
    if not aliases:
        return rows
    out: list[Row] = []
    for row in rows:
        aliased = dict(row)
        for source, name in aliases:
            if source in row:
                aliased[name] = row[source]
            else:
                aliased.pop(name, None)
        out.append(aliased)
    return out


def _add_columns(columns: list[str], names: Iterable[str]) -> None:
    columns.extend(n for n in names if n not in columns)


def run(query: str | Query, events: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Evaluate ``query`` over ``events`` (parsed JSON messages plus ``@`` system fields).

    Commands apply in order, as in Insights. The rows hold the columns of the last ``display``, else
    of every ``fields`` (or the last ``stats``), else ``@timestamp`` and ``@message``.
    """
    parsed = parse(query) if isinstance(query, str) else query
    rows = [flatten(event) for event in events]
    columns: list[str] = []
    display: tuple[str, ...] | None = None
    for command in parsed.commands:
        if isinstance(command, Fields):
            rows = _fields(command, rows)
            _add_columns(columns, (name for _, name in command.items))
        elif isinstance(command, Display):
            display = command.fields
        elif isinstance(command, Filter):
            rows = [row for row in rows if _matches(command.expr, row)]
        elif isinstance(command, Sort):
            rows = _sort(rows, command.keys)
        elif isinstance(command, Limit):
            rows = rows[: command.count]
        elif isinstance(command, Stats):
            rows = _stats(command, rows)
            columns = list(command.by) + [a.name for a in command.aggregates]
            display = None
        else:
            rows = _dedup(command, rows)
    selected = display if display is not None else (tuple(columns) or DEFAULT_COLUMNS)
    return [{name: row[name] for name in selected if name in row} for row in rows[:MAX_ROWS]]
