"""``otel-cw-exporter queries install|list``: the saved Logs Insights queries, as query definitions in AWS."""

from __future__ import annotations

import argparse
import os

from otel_cw_exporter.cli import catalog
from otel_cw_exporter.cli.aws import connect, name_template, render_template, require_group_text
from otel_cw_exporter.cli.errors import EXIT_OK, EXIT_USAGE, PROG, CliError, describe_error
from otel_cw_exporter.cli.render import render_table
from otel_cw_exporter.config import ConfigError, env_name


def _query_groups(args: argparse.Namespace, *, required: bool) -> list[str]:
    """``--group`` values, else the exporter's group and the constant groups of its routes (variables)."""
    groups = [g for g in (args.group or []) if g]
    if not groups:
        configured = os.environ.get(env_name("log_group_name"), "").strip()
        if configured:
            groups = [render_template(configured, "group")]
            groups.extend(g for g in _route_groups() if g not in groups)
    if required and not groups:
        raise CliError("no log group configured", require_group_text() + " (--group may be repeated)", EXIT_USAGE)
    for group in groups:
        if "{" in group:
            raise CliError(f'log group "{group}" is a template', "pass the real name(s) with --group", EXIT_USAGE)
    return groups


def _route_groups() -> list[str]:
    """The log groups named (without placeholders) by ``OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES``."""
    from otel_cw_exporter.route.routes import routes_from_json

    text = os.environ.get(env_name("routes"), "")
    try:
        routes = routes_from_json(text, source=env_name("routes"))
    except ConfigError as error:
        raise CliError(f"invalid configuration: {error}", "correct the variable", EXIT_USAGE) from None
    constants = (name_template(route.log_group_name, "group").constant for route in routes if route.log_group_name)
    return [str(name) for name in constants if name is not None]


def cmd_queries_install(args: argparse.Namespace) -> int:

    groups = _query_groups(args, required=True)
    aws = connect(args, groups[0])
    client = aws.logs()
    try:
        results = catalog.install(client, groups, dry_run=args.dry_run)
    except Exception as error:
        raise describe_error(error, group=groups[0], region=aws.region, endpoint=aws.endpoint) from None
    rows = [[r.action + (" (dry run)" if args.dry_run else ""), r.group, r.title] for r in results]
    for line in render_table(["action", "log group", "query"], rows, wrap=2):
        print(line)
    counts = {action: sum(r.action == action for r in results) for action in ("created", "updated", "unchanged")}
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    where = f"in {aws.region} ({aws.endpoint})"
    print()
    print(f"{summary} {where}{' (dry run: nothing written)' if args.dry_run else ''}.")
    print(f"Definitions are named {catalog.PREFIX}<log group>/<query>; other definitions are not touched.")
    for result in results:
        if result.duplicates:
            print(f'note: {result.duplicates} more definition(s) named "{result.name}" exist; only one is kept current')
    return EXIT_OK


def cmd_queries_list(args: argparse.Namespace) -> int:

    if args.catalog:
        for query in catalog.SAVED_QUERIES:
            origin = "verbatim, as the watchtower-based setup saved it" if query.origin == "verbatim" else "added"
            print(f"{query.title}  ({origin})")
            if query.description:
                print(f"  {query.description}")
            for line in query.query.splitlines():
                print(f"    {line}")
            print()
        return EXIT_OK
    groups = _query_groups(args, required=False)
    aws = connect(args, groups[0] if groups else None, need_group=False)
    client = aws.logs()
    try:
        listed = catalog.list_ours(client, groups or None)
    except Exception as error:
        raise describe_error(error, region=aws.region, endpoint=aws.endpoint) from None
    order = {query.title: index for index, query in enumerate(catalog.SAVED_QUERIES)}
    found: list[tuple[str, int, str, str]] = [
        (item.group, order.get(item.title, len(order)), item.status, item.title) for item in listed
    ]
    absent = catalog.missing(listed, groups) if groups else []
    found.extend((group, order[query.title], "missing", query.title) for group, query in absent)
    rows = [[status, group, title] for group, _, status, title in sorted(found)]
    if not rows:
        print(
            f"No query definitions named {catalog.PREFIX}... in {aws.region}. "
            f"Run `{PROG} queries install --group NAME`."
        )
        return EXIT_OK
    for line in render_table(["status", "log group", "query"], rows, wrap=2):
        print(line)
    if any(row[0] in ("missing", "outdated") for row in rows):
        print()
        print(f"`{PROG} queries install` creates the missing ones and updates the outdated ones.")
    return EXIT_OK
