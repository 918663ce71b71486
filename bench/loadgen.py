"""The load generator: a closed loop of `concurrency` clients, each on its own keep-alive HTTP/1.1
connection, sending prepared requests and timing each answer.

A process of its own (run_all.py starts it per measurement) so that the client's work is not
done by the server's process; on a two-core machine client, server and Postgres still share the
CPUs, which is why the figures are read as ratios between systems measured the same way.

A minimal client on asyncio streams (uvloop when installed) rather than httpx: it costs the
shared CPUs several times less per request, so it takes less from the server it measures.

    python bench/loadgen.py SPEC.json   ->   one JSON object of results on stdout

SPEC: {"host", "port", "requests": [{"path", "headers", "body"}], "concurrency", "duration",
"warmup"} for a timed run, or with "count" instead of "duration" for exactly that many requests,
one after another.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def record(self, seconds: float, status: int, body: bytes) -> None:
        if status != 200 or b'"errors"' in body:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"HTTP {status}: {body[:300].decode(errors='replace')}"
        self.latencies.append(seconds)


def prepared(host: str, port: int, request: dict[str, Any]) -> bytes:
    body: bytes = request["body"].encode()
    lines = [f"POST {request['path']} HTTP/1.1", f"Host: {host}:{port}",
             "Content-Type: application/json", "Accept: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in request.get("headers", {}).items()]
    head: bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + body


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


async def client(number: int, clients: int, requests: list[bytes], connection: Connection,
                 until: float, measure_from: float, tally: Tally) -> None:
    n = number
    while True:
        started = time.perf_counter()
        if started >= until:
            return
        status, body = await connection.send(requests[n % len(requests)])
        n += clients
        if started >= measure_from:
            tally.record(time.perf_counter() - started, status, body)


async def timed(spec: dict[str, Any], requests: list[bytes]) -> dict[str, Any]:
    clients = int(spec["concurrency"])
    connections = [Connection(spec["host"], int(spec["port"])) for _ in range(clients)]
    tally = Tally()
    start = time.perf_counter()
    measure_from = start + float(spec.get("warmup", 0))
    until = measure_from + float(spec["duration"])
    try:
        await asyncio.gather(*(client(i, clients, requests, connections[i], until, measure_from,
                                      tally) for i in range(clients)))
    finally:
        for connection in connections:
            await connection.close()
    # Requests that started in the window and finished after it still count: the window is
    # the time from its start until the last of them answered.
    elapsed = max(time.perf_counter() - measure_from, float(spec["duration"]))
    return summary(tally, elapsed)


async def counted(spec: dict[str, Any], requests: list[bytes]) -> dict[str, Any]:
    connection = Connection(spec["host"], int(spec["port"]))
    tally = Tally()
    start = time.perf_counter()
    try:
        for n in range(int(spec["count"])):
            began = time.perf_counter()
            status, body = await connection.send(requests[n % len(requests)])
            tally.record(time.perf_counter() - began, status, body)
    finally:
        await connection.close()
    return summary(tally, time.perf_counter() - start)


def summary(tally: Tally, elapsed: float) -> dict[str, Any]:
    latencies = sorted(tally.latencies)
    done = len(latencies)

    def percentile(p: float) -> float:
        return latencies[min(done - 1, int(p * done))] * 1000 if done else float("nan")

    return {
        "requests": done, "errors": tally.errors, "first_error": tally.first_error,
        "seconds": elapsed, "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": percentile(0.50), "p99_ms": percentile(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if done else float("nan"),
    }


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    requests = [prepared(spec["host"], int(spec["port"]), r) for r in spec["requests"]]
    if "count" in spec:
        return await counted(spec, requests)
    return await timed(spec, requests)


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as given:
        spec = json.load(given)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
