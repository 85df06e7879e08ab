"""The spool directory's files: one per process, locked while it lives; a dead process's file is adopted once.

Each process (each gunicorn worker, each forked child) writes its own file,
``spool-<pid>-<random>.sqlite3``, and holds an exclusive lock on ``<file>.lock`` for as long as it lives:
the operating system releases it when the process ends, however it ends (SIGKILL included). A live
process that gets the lock of a file not its own knows the owner is gone and adopts the file; the lock
makes sure no two processes adopt the same one. A forked child never uses its parent's file: it makes
its own. A file that cannot be read is renamed (``.unreadable-<time>``), never deleted, never read again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
from pathlib import Path
from typing import IO

from otel_cw_exporter.config import ConfigError, setting

PREFIX = "spool-"
SUFFIX = ".sqlite3"
LOCK_SUFFIX = ".lock"
#: SQLite's companions of a database in WAL mode, moved or removed with it.
COMPANIONS = ("-wal", "-shm")


def prepare(directory: str, label: str = "spool_dir") -> Path:
    """The spool directory, made if missing; a ConfigError when this process cannot write there."""
    path = Path(directory).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"{label}={directory!r} cannot be used: {error.strerror or error}",
            f"create the directory and let this process write there, or set {setting(label, '/var/spool/myapp')}",
        ) from None
    return path


def spool_files(directory: Path) -> list[Path]:
    """The spool files in ``directory``, oldest name first (files set aside are not among them)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(directory / n for n in names if n.startswith(PREFIX) and n.endswith(SUFFIX))


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + LOCK_SUFFIX)


def pid_of(path: Path) -> int | None:
    """The process id in a spool file's name (the process that made it)."""
    parts = path.name[len(PREFIX) :].split("-")
    return int(parts[0]) if parts and parts[0].isdigit() else None


class Lock:
    """An exclusive lock on a file's ``.lock``, held until :meth:`release` or the process ends."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle: IO[bytes] | None = handle

    @classmethod
    def take(cls, path: Path) -> Lock | None:
        """The lock of spool file ``path``, or None when a live process holds it."""
        try:
            handle = open(lock_path(path), "ab")  # noqa: SIM115 - held for the life of the lock
        except OSError:
            return None
        if not _try_lock(handle):
            handle.close()
            return None
        return cls(handle)

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                _unlock(handle)
            handle.close()

    def forget_in_child(self) -> None:
        """In a forked child: close our copy without unlocking (the lock is the parent's, still held)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                os.close(handle.fileno())
            with contextlib.suppress(OSError):
                handle.close()


def _try_lock(handle: IO[bytes]) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def new_file(directory: Path) -> tuple[Path, Lock]:
    """A new spool file name for this process, already locked (the lock comes first: nobody adopts it)."""
    while True:
        path = directory / f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}{SUFFIX}"
        if path.exists() or lock_path(path).exists():
            continue
        lock = Lock.take(path)
        if lock is not None:
            return path, lock


def is_held(path: Path) -> bool:
    """Whether a live process holds ``path`` (for ``spool status``: it takes the lock a moment to see)."""
    lock = Lock.take(path)
    if lock is None:
        return True
    lock.release()
    return False


def remove(path: Path, lock: Lock | None) -> None:
    """Delete a drained spool file, its companions and its lock file (the lock is held: nobody else uses it)."""
    for name in (path, *(path.with_name(path.name + c) for c in COMPANIONS), lock_path(path)):
        with contextlib.suppress(OSError):
            name.unlink()
    if lock is not None:
        lock.release()


def set_aside(path: Path) -> Path:
    """Rename a file that cannot be read (and its companions) out of the way, keeping it for a person."""
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}")
    os.replace(path, aside)
    for companion in COMPANIONS:
        with contextlib.suppress(OSError):
            os.replace(path.with_name(path.name + companion), aside.with_name(aside.name + companion))
    return aside
