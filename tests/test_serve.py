"""`wardgraph serve --demo` on the embedded server, as a newcomer runs it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from wardgraph.db.embedded import pgdata_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_running_in(pgdata: Path) -> bool:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"postgres") and str(pgdata).encode() in cmdline:
            return True
    return False


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "WARDGRAPH_DATA_DIR": str(data_dir), "WARDGRAPH_PORT": str(port)}
    env.pop("WARDGRAPH_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "wardgraph.ops.cli", "serve", "--demo"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + 120
    while "wardgraph serving" not in output:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"serve exited early:\n{output}")
        output += line
        assert time.monotonic() < deadline, output
    deadline = time.monotonic() + 30
    while True:  # wait for uvicorn to accept connections
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    return process, output


def run_printed_curl(output: str) -> dict[str, object]:
    command = output[output.index("curl -s"):].split("\n\n")[0].replace("\\\n", " ")
    args = shlex.split(command)
    url = args[2]
    headers = {}
    body = ""
    for flag, value in zip(args[3::2], args[4::2], strict=False):
        if flag == "-H":
            name, _, header_value = value.partition(": ")
            headers[name] = header_value
        elif flag == "-d":
            body = value
    response = httpx.post(url, content=body, headers=headers, timeout=30)
    result: dict[str, object] = response.json()
    return result


def stop(process: subprocess.Popen[str], sig: int) -> int:
    process.send_signal(sig)
    return process.wait(timeout=60)


def test_serve_demo_prints_tokens_and_a_working_curl_then_stops_cleanly() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="wardgraph-serve-", dir="/tmp"))
    data_dir.chmod(0o755)
    pgdata = pgdata_for(data_dir)
    port = free_port()
    process, output = start(data_dir, port)
    try:
        for role in ("ADMIN", "CLINICIAN", "NURSE", "BILLING", "AUDITOR"):
            assert re.search(rf"^\s+{role}\s", output, re.MULTILINE), role
        result = run_printed_curl(output)
        assert "errors" not in result, result
        data = result["data"]
        assert isinstance(data, dict)
        assert data["viewer"]["role"] == "NURSE"
        assert len(data["patients"]["edges"]) == 3
        assert httpx.get(f"http://127.0.0.1:{port}/graphql",
                         headers={"Accept": "text/html"}).status_code == 200  # GraphiQL
    finally:
        code = stop(process, signal.SIGTERM)
    assert code == 0
    assert not postgres_running_in(pgdata)

    # A second start reuses the data: the same demo tenants, no second copy.
    process, output = start(data_dir, port)
    try:
        result = run_printed_curl(output)
        assert "errors" not in result, result
        data = result["data"]
        assert isinstance(data, dict)
        assert data["viewer"]["role"] == "NURSE"
    finally:
        code = stop(process, signal.SIGINT)
    assert code in (0, 130)
    assert not postgres_running_in(pgdata)
