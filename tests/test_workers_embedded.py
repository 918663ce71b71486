"""`wardgraph serve --demo --workers 2` on the embedded server, as a newcomer runs it: the
parent process starts and owns the database, both workers answer, and SIGTERM to the parent
ends the workers and then the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.test_serve import free_port, postgres_running_in, run_printed_curl
from wardgraph.db.embedded import pgdata_for

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_workers_on_the_embedded_server_serve_and_stop_with_their_parent() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="wardgraph-workers-", dir="/tmp"))
    data_dir.chmod(0o755)
    port = free_port()
    env = {**os.environ, "WARDGRAPH_DATA_DIR": str(data_dir), "WARDGRAPH_PORT": str(port)}
    for name in ("WARDGRAPH_DATABASE_URL", "WARDGRAPH_ADMIN_DATABASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "wardgraph.ops.cli", "serve", "--demo", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    workers: list[int] = []
    try:
        output = ""
        deadline = time.monotonic() + 120
        while "wardgraph serving" not in output:
            line = process.stdout.readline()
            assert line or process.poll() is None, output
            output += line
            assert time.monotonic() < deadline, output
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
            workers = children_of(process.pid)
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve never became ready"
            time.sleep(0.2)
        for _ in range(6):  # fresh connections: both workers answer some
            result = run_printed_curl(output)
            assert "errors" not in result, result
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0
    assert not postgres_running_in(pgdata_for(data_dir))
    # The workers (and multiprocessing's resource tracker) end with their parent.
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, [
            Path(f"/proc/{pid}/cmdline").read_bytes() for pid in workers
            if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
