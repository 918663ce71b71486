"""The product as a person runs it: `wardgraph serve` and the operator's commands as separate
processes on one data dir with the embedded server, as root or as an ordinary user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.serving import free_port
from wardgraph.db.embedded import pgdata_for
from wardgraph.db.embedded_root import digest

OPERATOR_USER = "wardgraph-operator"  # an ordinary login, made for these tests where possible
VIEWER = "{ viewer { role tenant { slug } } }"


def can_make_users() -> bool:
    return os.geteuid() == 0 and shutil.which("useradd") is not None


def ensure_operator_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OPERATOR_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", OPERATOR_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(OPERATOR_USER)


def _runnable_tree(user: pwd.struct_passwd, into: Path) -> Path:
    """The installed dependencies and this checkout's package, where `user` can read them.

    The checkout may sit in a folder only root can enter (/root, mode 700): the user then
    gets a hard-linked view of it (a copy where hard links are impossible) inside a folder
    of their own, rather than any folder of root's being opened up.
    """
    import sysconfig

    import wardgraph

    tree = into / "python"
    sources = {
        tree / "site-packages": Path(sysconfig.get_paths()["purelib"]),
        tree / "src" / "wardgraph": Path(wardgraph.__file__).parent,
    }
    for target, source in sources.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        linked = subprocess.run(["cp", "-al", str(source), str(target)], capture_output=True,
                                check=False)
        if linked.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, symlinks=True)
    return tree


def _as(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a child as `user` (with that user's group only)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _interpreter_for(user: pwd.struct_passwd) -> str:
    """This Python, or the system's build of the same version when `user` cannot run this
    one (an interpreter installed under /root): the dependencies' wheels fit either."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [os.path.realpath(sys.executable),
                  shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")]
    for candidate in filter(None, candidates):
        try:
            subprocess.run([candidate, "-c", "pass"], capture_output=True, check=True,
                           **_as(user))
        except (OSError, subprocess.CalledProcessError):
            continue
        return candidate
    raise AssertionError(f"no {version} that {user.pw_name} can run")


@dataclass
class Operator:
    """Who runs the commands: this process's user, or OPERATOR_USER."""

    data_dir: Path
    user: pwd.struct_passwd | None = None
    home: Path | None = None  # where commands run and files go; the data dir's parent if None
    _python: list[str] = field(default_factory=lambda: [sys.executable])
    _pythonpath: str | None = None

    @classmethod
    def current(cls) -> Operator:
        folder = Path(tempfile.mkdtemp(prefix="wardgraph-operator-", dir="/tmp"))
        folder.chmod(0o755)  # as root: reachable by the server's service user
        return cls(folder / "data")

    @classmethod
    def ordinary_user(cls) -> Operator:
        user = ensure_operator_user()
        home = Path(tempfile.mkdtemp(prefix="wardgraph-operator-", dir="/tmp"))
        os.chown(home, user.pw_uid, user.pw_gid)
        home.chmod(0o700)
        tree = _runnable_tree(user, home)
        data_dir = home / "data"
        data_dir.mkdir()
        os.chown(data_dir, user.pw_uid, user.pw_gid)
        python = _interpreter_for(user)
        return cls(data_dir, user, None, [python],
                   f"{tree / 'src'}:{tree / 'site-packages'}")

    @property
    def folder(self) -> Path:
        return self.home or self.data_dir.parent

    @property
    def pgdata(self) -> Path:
        if self.user is not None:
            return self.data_dir.resolve() / "pg"
        return pgdata_for(self.data_dir)

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("WARDGRAPH_", "PYTHON"))}
        env.update({"WARDGRAPH_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1",
                    "HOME": str(self.folder), **extra})
        if self._pythonpath:
            env["PYTHONPATH"] = self._pythonpath
        return env

    def command(self, *args: str) -> list[str]:
        return [*self._python, "-m", "wardgraph.ops.cli", *args]

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), env=self.environment(**extra),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.folder,
                                **_as(self.user))

    def run(self, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), env=self.environment(**extra), input=stdin,
                              capture_output=True, text=True, timeout=180, check=False,
                              cwd=self.folder, **_as(self.user))

    def serve(self) -> Serve:
        port = free_port()
        log = self.folder / f"serve-{port}.log"
        with log.open("w") as sink:
            process = subprocess.Popen(self.command("serve", "--port", str(port)),
                                       env=self.environment(), stdout=sink,
                                       stderr=subprocess.STDOUT, cwd=self.folder,
                                       **_as(self.user))
        return Serve(process, port, log)

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (postmaster.pid's first line), None when none runs."""
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def remove(self) -> None:
        socket_dir = Path(tempfile.gettempdir()) / f"wardgraph-{digest(self.pgdata)}"
        shutil.rmtree(socket_dir, ignore_errors=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.pgdata.parent != self.data_dir.resolve():  # root's copy under /var/lib
            shutil.rmtree(self.pgdata.parent, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie no longer does: PID 1 may be slow to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass
class Serve:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def readyz(self) -> int:
        return httpx.get(f"{self.url}/readyz", timeout=10).status_code

    def viewer(self, token: str) -> dict[str, object]:
        response = httpx.post(f"{self.url}/graphql", json={"query": VIEWER}, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        body: dict[str, object] = response.json()
        return body

    def terminate(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=60)
