"""Who owns an embedded server: every wardgraph process using it, through file locks.

Each process that uses the server holds a shared lock on `<pgdata>.users` for as long as it
uses it. Starting and leaving happen under an exclusive lock on `<pgdata>.lock`, so two
processes never start (or initdb) the same cluster at once, and none stops it while another
is starting to use it. A process that leaves stops the server only when no other process holds
a lease and wardgraph itself started that server (`<pgdata>.started` names its postmaster);
a server started by hand is never stopped.

The kernel drops a process's locks when it dies, even by SIGKILL, so a crashed process never
pins the server: the next process to leave it stops it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _sibling(pgdata: Path, suffix: str) -> Path:
    # Beside the cluster, not in it: initdb wants an empty folder.
    return pgdata.with_name(pgdata.name + suffix)


@contextmanager
def exclusive(pgdata: Path) -> Iterator[None]:
    """The start/stop mutex of one cluster."""
    fd = os.open(_sibling(pgdata, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Lease:
    """This process's claim on a running server (taken and dropped under `exclusive`)."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._fd: int | None = None

    def take(self) -> None:
        if self._fd is None:
            # O_CLOEXEC: the postmaster started by this process must not inherit the lease.
            fd = os.open(_sibling(self.pgdata, ".users"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._fd = fd

    def drop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def others_hold(self) -> bool:
        """Whether another process holds a lease (call after `drop`)."""
        fd = os.open(_sibling(self.pgdata, ".users"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def postmaster_identity(pgdata: Path) -> str | None:
    """The running postmaster's pid and start time, from postmaster.pid."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return " ".join(lines[:3]) if len(lines) >= 3 else None


def record_started(pgdata: Path) -> None:
    identity = postmaster_identity(pgdata)
    if identity is not None:
        _sibling(pgdata, ".started").write_text(identity)


def started_by_wardgraph(pgdata: Path) -> bool:
    try:
        recorded = _sibling(pgdata, ".started").read_text()
    except OSError:
        return False
    return recorded == postmaster_identity(pgdata)


def forget_started(pgdata: Path) -> None:
    _sibling(pgdata, ".started").unlink(missing_ok=True)
