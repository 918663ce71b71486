"""Helpers of the production-GraphQL tests: extra live servers with their own settings, raw
HTTP against them, `wardgraph serve` as a subprocess, and graphql-transport-ws sockets."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.harness import TEST_SECRET, Api, LiveServer, settings_for_tests

WS_PROTOCOL = "graphql-transport-ws"


@asynccontextmanager
async def live_server(api_url: str, **overrides: Any) -> AsyncIterator[tuple[LiveServer, Api]]:
    """Another instance of the app, with some settings changed, on the same database."""
    server = LiveServer(settings_for_tests(**overrides), api_url)
    await server.start()
    api = Api(server.url)
    try:
        yield server, api
    finally:
        await api.close()
        await server.stop()


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body: dict[str, Any] = response.json()
    found: list[dict[str, Any]] = body.get("errors") or []
    return found


def code_of(response: httpx.Response) -> str | None:
    found = errors_of(response)
    return str(found[0]["extensions"]["code"]) if found else None


async def metric(api: Api, name: str, **labels: str) -> float:
    """The value of one series at /metrics (0 when absent)."""
    text = (await api.client.get("/metrics")).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        series_name, _, label_text = series.partition("{")
        if series_name != name:
            continue
        found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if found == wanted:
            return float(value)
    return 0.0


async def wait_for_metric(api: Api, name: str, value: float, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while await metric(api, name) != value:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name} never reached {value}: {await metric(api, name)}")
        await asyncio.sleep(0.05)


# -- WebSocket ---------------------------------------------------------------------------------

def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1) + "/graphql"


@asynccontextmanager
async def socket_for(base_url: str, payload: dict[str, Any] | None) -> AsyncIterator[
        ClientConnection]:
    """A graphql-transport-ws connection, initialised with `payload` (ack not awaited)."""
    async with connect(ws_url(base_url), subprotocols=[WS_PROTOCOL],  # type: ignore[list-item]
                       open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        yield ws


async def acknowledged(ws: ClientConnection) -> None:
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "connection_ack", message


async def subscribe(ws: ClientConnection, query: str, variables: dict[str, Any] | None = None,
                    operation_id: str = "1") -> None:
    await ws.send(json.dumps({"id": operation_id, "type": "subscribe",
                              "payload": {"query": query, "variables": variables or {}}}))


async def next_message(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return message


async def silent_for(ws: ClientConnection, seconds: float) -> bool:
    """Whether nothing arrives on the socket for `seconds`."""
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


# -- `wardgraph serve` ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wardgraph_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "wardgraph.ops.cli", *args]


def serve_environment(api_url: str, admin_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WARDGRAPH_")}
    env.update({
        "WARDGRAPH_DATABASE_URL": api_url, "WARDGRAPH_ADMIN_DATABASE_URL": admin_url,
        "WARDGRAPH_JWT_SECRET": TEST_SECRET, "PYTHONUNBUFFERED": "1", **extra,
    })
    return env


class ServeProcess:
    """`wardgraph serve` on a free port, its stderr (the JSON log) collected in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            wardgraph_command("serve", "--port", str(self.port)), env=env,
            stdout=subprocess.DEVNULL, stderr=self._log)

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        async with httpx.AsyncClient(base_url=self.url) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"serve exited: {self.log_path.read_text()}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError("serve did not start")
                await asyncio.sleep(0.1)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# -- escalations through the public API ----------------------------------------------------------

RECORD = """
mutation($input: RecordObservationInput!) { recordObservation(input: $input) { id } }"""

# Respiration rate 25 scores 3 (a red score): NEWS2 escalates, total 3, risk LOW_MEDIUM.
ESCALATING: dict[str, Any] = {
    "respirationRate": 25, "spo2": 97, "onOxygen": False, "systolicBp": 120, "pulse": 70,
    "consciousness": "ALERT", "temperature": 37.0,
}


async def escalate(api: Api, token: str, patient: str) -> str:
    """Record an escalating observation; its global id."""
    data = await api.data(RECORD, {"input": {"patientId": patient, **ESCALATING}}, token)
    return str(data["recordObservation"]["id"])


async def escalate_many(api: Api, token: str, patient: str, count: int) -> None:
    """`count` escalating observations in one mutation: one transaction, so their notices
    reach the listener together at commit."""
    fields = " ".join(f"o{n}: recordObservation(input: $input) {{ id }}" for n in range(count))
    await api.data(f"mutation($input: RecordObservationInput!) {{ {fields} }}",
                   {"input": {"patientId": patient, **ESCALATING}}, token)
