"""The systems under test, each started as a server process of its own on a loopback port:
wardgraph (its app under uvicorn), the peers (PostGraphile 5 and 4 under node) and the floor (raw
asyncpg under uvicorn). They are all started before measuring and take turns: only the one being
measured has load, so none takes CPU from another."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from starlette.applications import Starlette

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
START_SECONDS = 90


@dataclass(frozen=True)
class Peer:
    """A PostGraphile release: where npm installs it, what it installs, the script serving it
    and the node that runs it."""

    prefix: Path
    packages: tuple[str, ...]
    script: str
    # node from the prefix (installed by npm as the `node` package), or the machine's.
    own_node: bool

    def node(self) -> str:
        return str(self.prefix / "node_modules" / ".bin" / "node") if self.own_node else "node"


# Each in a folder of its own under bench/node_modules (git-ignored): PostGraphile 4 needs
# graphql 15 and 5 needs graphql 16 of its own, bench/package.json's graphql-http audit wants
# graphql 16, and two copies of graphql in one tree break PostGraphile. PostGraphile 5 needs
# Node 22 or newer, which npm installs beside it (the `node` package), whatever node the
# machine has.
PEERS = {
    "postgraphile5": Peer(BENCH / "node_modules" / ".postgraphile5",
                          ("postgraphile@5.1.5", "node@22"), "peer_postgraphile5.cjs",
                          own_node=True),
    "postgraphile": Peer(BENCH / "node_modules" / ".postgraphile", ("postgraphile@4.14.1",),
                         "peer_postgraphile.cjs", own_node=False),
}


@dataclass(frozen=True)
class ServerOptions:
    """What every system is run with: processes, pool size, and uvicorn's event loop and HTTP
    parser (uvloop and httptools come with uvicorn[standard])."""

    workers: int = 1
    pool_size: int = 20
    loop: str = "uvloop"
    http: str = "httptools"
    jwt_secret: str = "bench-secret-" + "s" * 40


def wardgraph_app() -> Starlette:
    """The uvicorn factory (`--factory bench.servers:wardgraph_app`): the app as `wardgraph
    serve` builds it, configured from WARDGRAPH_* variables."""
    from wardgraph.config import Settings
    from wardgraph.server.app import create_app
    from wardgraph.server.log import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(settings, os.environ["WARDGRAPH_DATABASE_URL"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wardgraph_env(database_url: str, options: ServerOptions) -> dict[str, str]:
    """Production settings as an operator runs them, without the per-user rate limit (the load
    comes from a few hundred users at hundreds of requests a second) and without the per-request
    INFO log line (the peer logs nothing per request either)."""
    return {
        "WARDGRAPH_ENV": "production",
        "WARDGRAPH_DATABASE_URL": database_url,
        "WARDGRAPH_JWT_SECRET": options.jwt_secret,
        "WARDGRAPH_RATE_LIMIT_PER_MINUTE": "0",
        "WARDGRAPH_POOL_MIN_SIZE": str(min(options.pool_size, 4)),
        "WARDGRAPH_POOL_MAX_SIZE": str(options.pool_size),
        "WARDGRAPH_LOG_LEVEL": "WARNING",
    }


def uvicorn_command(factory: str, port: int, options: ServerOptions) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--factory", factory, "--app-dir", str(ROOT),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(options.workers),
            "--loop", options.loop, "--http", options.http, "--log-level", "warning",
            "--no-access-log", "--timeout-keep-alive", "120"]


def ensure_peer_installed(system: str) -> None:
    """The peer's packages, installed with npm on first use."""
    peer = PEERS[system]
    if (peer.prefix / "node_modules" / "postgraphile" / "package.json").exists():
        return
    subprocess.run(["npm", "install", "--prefix", str(peer.prefix), "--no-audit", "--no-fund",
                    "--loglevel", "error", *peer.packages], check=True, cwd=BENCH)


def peer_command(system: str) -> list[str]:
    peer = PEERS[system]
    return [peer.node(), str(BENCH / peer.script)]


def peer_env(system: str, database_url: str, port: int,
             options: ServerOptions) -> dict[str, str]:
    return {
        "PEER_DATABASE_URL": database_url,
        "PEER_PORT": str(port),
        "PEER_JWT_SECRET": options.jwt_secret,
        "PEER_POOL": str(options.pool_size),
        "PEER_WORKERS": str(options.workers),
        "NODE_PATH": str(PEERS[system].prefix / "node_modules"),
        "NODE_ENV": "production",
    }


@dataclass(frozen=True)
class Probe:
    """A request that answers 200 once the server is ready to serve."""

    path: str
    body: str | None = None
    token: str | None = None


@contextmanager
def running(command: list[str], env: dict[str, str], port: int,
            probe: Probe) -> Iterator[str]:
    """The server process, ready; stopped on the way out. Yields its base URL."""
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    try:
        wait_ready(process, url, probe)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(process: subprocess.Popen[bytes], url: str, probe: Probe) -> None:
    headers = {"content-type": "application/json"}
    if probe.token:
        headers["authorization"] = f"Bearer {probe.token}"
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited while starting ({process.args!r})")
        try:
            if probe.body is None:
                response = httpx.get(url + probe.path, timeout=5)
            else:
                response = httpx.post(url + probe.path, content=probe.body, headers=headers,
                                      timeout=30)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not become ready ({process.args!r})")
        time.sleep(0.2)
