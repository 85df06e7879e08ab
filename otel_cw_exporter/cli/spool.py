"""``otel-cw-exporter spool status|replay|purge``: what a spool directory holds, send it now, or drop the old.

``status`` only reads. ``replay`` and ``purge`` take the files no live process holds (a running
exporter replays its own file itself), exactly as an exporter adopting them would, so no two ever work
on the same file.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from otel_cw_exporter.cli.aws import client_config, connect
from otel_cw_exporter.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from otel_cw_exporter.cli.options import since_ms
from otel_cw_exporter.cli.render import render_table, stamp
from otel_cw_exporter.config import DEFAULT_DEAD_LETTER_MAX_BYTES, env_name


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def _directory(args: argparse.Namespace) -> Path:
    text = args.dir or os.environ.get(env_name("spool_dir"), "").strip()
    if not text:
        raise CliError("no spool directory given", f"pass --dir DIR, or set {env_name('spool_dir')}", EXIT_USAGE)
    path = Path(text).expanduser()
    if not path.is_dir():
        raise CliError(
            f"no spool directory {text!r}", "pass the spool_dir the application is configured with", EXIT_USAGE
        )
    return path


def cmd_spool_status(args: argparse.Namespace) -> int:
    from otel_cw_exporter.spool import deadletter
    from otel_cw_exporter.spool.files import is_held, pid_of, spool_files
    from otel_cw_exporter.spool.store import Destination, SpoolUnavailable, Store, UnreadableSpool

    directory = _directory(args)
    files: list[list[str]] = []
    by_destination: dict[tuple[str, str], list[int]] = {}
    total_events = total_bytes = 0
    oldest = math.inf
    for path in spool_files(directory):
        owner = f"running (pid {pid_of(path)})" if is_held(path) else "ended: replayed at the next start"
        try:
            store = Store(path, readonly=True)
            destinations: list[Destination] = store.destinations()
            store.close()
        except (UnreadableSpool, SpoolUnavailable) as error:
            # A running exporter sets such a file aside when it gets to it; nothing replays it.
            files.append([path.name, owner.split(":", 1)[0], "-", "-", f"unreadable: {error}"])
            continue
        events = sum(d.events for d in destinations)
        size = sum(d.bytes for d in destinations)
        first = min((d.oldest_ms for d in destinations), default=None)
        files.append([path.name, owner, str(events), _size(size), stamp(first) if first is not None else "-"])
        total_events += events
        total_bytes += size
        for d in destinations:
            found = by_destination.setdefault((d.group, d.stream), [0, 0, d.oldest_ms])
            found[0] += d.events
            found[1] += d.bytes
            found[2] = min(found[2], d.oldest_ms)
            oldest = min(oldest, d.oldest_ms)
    since = f", oldest {stamp(oldest)}" if total_events else ""
    print(f"Spool {directory}: {len(files)} file(s), {total_events} event(s), {_size(total_bytes)}{since}")
    if files:
        print()
        for line in render_table(["FILE", "PROCESS", "EVENTS", "BYTES", "OLDEST"], files, max_column=60):
            print(line)
    if by_destination:
        print()
        rows = [
            [f"{group}/{stream}", str(n), _size(b), stamp(first)]
            for (group, stream), (n, b, first) in sorted(by_destination.items())
        ]
        for line in render_table(["DESTINATION", "EVENTS", "BYTES", "OLDEST"], rows, max_column=60):
            print(line)
    letters, size = deadletter.count(directory)
    print()
    print(f"Dead-letter file {directory / deadletter.NAME}: {letters} event(s), {_size(size)}")
    return EXIT_OK


def cmd_spool_replay(args: argparse.Namespace) -> int:
    from otel_cw_exporter.send.delivery import Delivery
    from otel_cw_exporter.spool.files import is_held, pid_of, spool_files
    from otel_cw_exporter.spool.replay import Replay
    from otel_cw_exporter.spool.spool import Spool
    from otel_cw_exporter.telemetry import Telemetry

    directory = _directory(args)
    aws = connect(args, None, need_group=False)
    telemetry = Telemetry()
    spool = Spool(directory, telemetry, max_bytes=2**62, dead_letter_max_bytes=DEFAULT_DEAD_LETTER_MAX_BYTES)
    delivery = Delivery(
        lambda: aws.logs(client_config()),
        telemetry,
        create_log_group=args.create_group,
        create_log_stream=True,
        losses=None,
        hints={"ResourceNotFoundException": "create the log group, or pass --create-group"},
    )
    replay = Replay(spool, delivery, telemetry, timeout=args.timeout)
    held = [path for path in spool_files(directory) if is_held(path)]
    spool.adopt(now=math.inf)
    failed = False
    try:
        while (found := spool.chunk(10_000, 4 * 1_048_576)) is not None:
            if not replay.send(*found):
                failed = True
                break
    finally:
        left = int(spool.gauges()["spool_bytes"])
        spool.close()
    stats = telemetry.snapshot()
    print(
        f"Replayed {stats.events_replayed} event(s) from {directory}; "
        f"{stats.events_dead_lettered} refused by CloudWatch for good, written to the dead-letter file."
    )
    for path in held:
        print(f"Skipped {path.name}: its process (pid {pid_of(path)}) is running and replays it itself.")
    if failed:
        print(f"Not sent: {_size(left)} of events stay in the spool; run this again when delivery works.")
        return EXIT_FAILED
    return EXIT_OK


def cmd_spool_purge(args: argparse.Namespace) -> int:
    from otel_cw_exporter.spool.files import Lock, pid_of, remove, spool_files
    from otel_cw_exporter.spool.store import SpoolUnavailable, Store, UnreadableSpool

    directory = _directory(args)
    cutoff = since_ms(args.older_than)
    purged = files = 0
    skipped: list[Path] = []
    unreadable: list[str] = []
    for path in spool_files(directory):
        lock = Lock.take(path)
        if lock is None:
            skipped.append(path)
            continue
        try:
            store = Store(path)
            while rows := store.older_than(cutoff):
                purged += store.delete([row.id for row in rows])
            empty = store.events == 0
            store.close()
        except (UnreadableSpool, SpoolUnavailable) as error:
            lock.release()
            unreadable.append(f"{path.name}: {error}")
            continue
        files += 1
        if empty:
            remove(path, lock)
        else:
            lock.release()
    print(f"Purged {purged} event(s) logged before {stamp(cutoff)} from {files} file(s) in {directory}.")
    for path in skipped:
        print(f"Skipped {path.name}: its process (pid {pid_of(path)}) is running; stop it first to purge its file.")
    for problem in unreadable:
        print(f"Not purged, unreadable: {problem}")
    return EXIT_FAILED if unreadable else EXIT_OK
