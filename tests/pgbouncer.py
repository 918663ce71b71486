"""Debian's PgBouncer in transaction mode in front of the test database, for the tests that
run the API through it. PgBouncer refuses to run as root: as root it runs as the owner of
the server's socket folder (the embedded server's service user), or as nobody over TCP."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tests.serving import free_port

BINARY = "pgbouncer"


def pgbouncer_missing_reason() -> str | None:
    """Why PgBouncer cannot run here, or None. (.ci/run installs Debian's package.)"""
    if shutil.which(BINARY) is None and not Path("/usr/sbin/pgbouncer").exists():
        return "pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)"
    return None


def _binary() -> str:
    return shutil.which(BINARY) or "/usr/sbin/pgbouncer"


class PgBouncer:
    """One PgBouncer in transaction mode for the database of `server_url` (the API's role),
    with at most `pool_size` server connections."""

    def __init__(self, server_url: str, pool_size: int) -> None:
        parts = urlsplit(server_url)
        query = parse_qs(parts.query)
        self.host = query["host"][0] if "host" in query else (parts.hostname or "127.0.0.1")
        self.server_port = parts.port or 5432
        self.user = unquote(parts.username or "wg_api")
        self.password = unquote(parts.password) if parts.password else ""
        self.database = parts.path.lstrip("/")
        self.pool_size = pool_size
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="wardgraph-pgbouncer-", dir="/tmp"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        secret = f":{self.password}" if self.password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{self.database}"

    def config(self) -> str:
        # Clients authenticate with the same password the server wants (trust when the server
        # trusts its socket, as the embedded one does); the server login uses auth_file's.
        auth_type = "scram-sha-256" if self.password else "trust"
        return "\n".join([
            "[databases]",
            f"{self.database} = host={self.host} port={self.server_port} dbname={self.database}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            f"auth_type = {auth_type}",
            f"auth_file = {self.folder / 'userlist.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            "max_client_conn = 1000",
            "ignore_startup_parameters = extra_float_digits",
            "server_reset_query =",
            "",
        ])

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        if self.host.startswith("/"):
            return pwd.getpwuid(Path(self.host).stat().st_uid).pw_name
        return "nobody"

    def start(self) -> None:
        ini, users = self.folder / "pgbouncer.ini", self.folder / "userlist.txt"
        ini.write_text(self.config(), encoding="utf-8")
        users.write_text(f'"{self.user}" "{self.password}"\n', encoding="utf-8")
        run_as = self._run_as()
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            for path in (self.folder, ini, users):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.folder.chmod(0o700)
        command = [_binary(), str(ini)] + (["-u", run_as] if run_as else [])
        self.log = (self.folder / "pgbouncer.log").open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise AssertionError("pgbouncer exited: "
                                     + (self.folder / "pgbouncer.log").read_text())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("pgbouncer did not listen") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
