"""The README's "Run it on your own PostgreSQL", verbatim, against an empty server.

Collected only when WARDGRAPH_README_POSTGRES_BIN names the binaries of a PostgreSQL server
(tests/conftest.py): .ci/run gives Debian's PostgreSQL 15 (/usr/lib/postgresql/15/bin) and
runs this file alone, so it fails, rather than passes silently, when it cannot run. A fresh
cluster is made for each run: the README starts from an empty server, and roles are
cluster-wide.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Run it on your own PostgreSQL"


def readme_commands() -> str:
    """The section's fenced sh blocks, joined in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else None]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 3, "the section lost its commands"
    return "\n".join(blocks)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    bin_dir: Path
    port: int
    superuser_password: str


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """An empty cluster: its superuser `postgres` with a password, SCRAM over TCP only."""
    bin_dir = Path(os.environ["WARDGRAPH_README_POSTGRES_BIN"])
    # PostgreSQL refuses to run as root; Debian's server runs as the postgres user.
    user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-readme-", dir="/tmp"))
    password = secrets.token_urlsafe(18)
    (folder / "pwfile").write_text(password + "\n", encoding="utf-8")
    if user:
        for path in (folder, folder / "pwfile"):
            os.chown(path, user.pw_uid, user.pw_gid)

    def run(*args: str) -> None:
        subprocess.run([str(bin_dir / args[0]), *args[1:]], check=True, capture_output=True,
                       text=True, user=user.pw_name if user else None, cwd="/", timeout=120)

    data = folder / "data"
    run("initdb", "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
        f"--pwfile={folder / 'pwfile'}", "--encoding=UTF8", "--locale=C.UTF-8")
    port = free_port()
    run("pg_ctl", "-D", str(data), "-w", "-l", str(folder / "server.log"), "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    try:
        yield Server(bin_dir, port, password)
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_readme_commands_run_verbatim_from_an_empty_server_to_a_served_query(
    server: Server,
) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WARDGRAPH_", "PG"))}
    env.update({
        "PGHOST": "127.0.0.1", "PGPORT": str(server.port), "PGUSER": "postgres",
        "PGPASSWORD": server.superuser_password, "WARDGRAPH_PORT": str(free_port()),
        # `wardgraph` of this checkout, then the server's psql.
        "PATH": f"{Path(sys.executable).parent}:{server.bin_dir}:{env.get('PATH', '')}",
    })
    # bash -e: a failing command fails the test. The README leaves the API serving in the
    # background, holding bash's output open: output goes to files, and the API, in the
    # session of its own that bash starts here, is stopped afterwards (and nothing else).
    logs = Path(tempfile.mkdtemp(prefix="wardgraph-readme-out-", dir="/tmp"))
    with (logs / "stdout").open("w") as out, (logs / "stderr").open("w") as err:
        process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", readme_commands()],
                                   env=env, stdout=out, stderr=err, text=True,
                                   start_new_session=True, cwd=tempfile.gettempdir())
        try:
            process.wait(timeout=300)
        finally:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    stdout = (logs / "stdout").read_text(encoding="utf-8")
    stderr = (logs / "stderr").read_text(encoding="utf-8")
    shutil.rmtree(logs)
    assert process.returncode == 0, f"{stdout}\n{stderr}"
    assert "wg_api's password is set from WARDGRAPH_DATABASE_URL" in stdout
    assert '{"data":{"viewer":{"role":"ADMIN","tenant":{"slug":"st-marys"}}}}' in stdout
    assert "Traceback" not in stderr
