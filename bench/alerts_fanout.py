"""Live NEWS2 alerts at hospital scale: delivery latency, server CPU per alert and memory per
subscriber, at 100, 1,000 and 3,000 subscribers.

Run from the repository root: ``python bench/alerts_fanout.py [--subscribers 100,1000,3000]``.
It starts its own embedded PostgreSQL in a temporary folder and the app under uvicorn on a
loopback port (a process of its own, whose CPU time and memory are read from /proc), creates
2 tenants of 3 facilities each and people in 4 roles (ADMIN, CLINICIAN, NURSE, PARTNER) with
varied facility sets and partner scopes, then, for each size, a load generator (yet another
process) opens that many news2Alerts subscriptions spread over those people (a person holds
several: devices, tabs, ward screens). Alerts are raised one at a time through HTTP
(recordObservation, NEWS2 HIGH), alternating tenants and facilities; each delivery's latency
runs from the mutation being sent to the subscriber receiving the alert.

Prints figures only and asserts no timing; exits non-zero if any subscriber received an alert
it may not see or missed one it may. The Postgres server and its folder are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn

# Allow running as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import Probe, free_port, wait_ready
from tests.factories import TenantKit, make_tenant
from tests.harness import Api, settings_for_tests
from wardgraph.auth.claims import Role
from wardgraph.db.embedded import THROWAWAY_SETTINGS, EmbeddedPostgres
from wardgraph.migrations import runner
from wardgraph.server.app import create_app

ALERTS_PER_SIZE = 8
ALERT_SPACING_SECONDS = 1.5
SETTLE_SECONDS = 3.0
FACILITIES = ("F1", "F2", "F3")
# Facility sets people are given: one ward's facility, two, or the whole tenant.
FACILITY_SETS = (("F1",), ("F2",), ("F1", "F2"), ("F1", "F2", "F3"))
PARTNER_SCOPES = (("observations:read",), ("observations:read", "patients:read"))
ROLES = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.PARTNER)
SUBSCRIPTION = ("subscription { news2Alerts { escalationId observationId } }")
RECORD = """mutation($input: RecordObservationInput!) { recordObservation(input: $input) { id } }"""
# NEWS2 7 or more (HIGH): RR 25 (3), SpO2 91 (3), pulse 131 (3).
HIGH = {"respirationRate": 25, "spo2": 91, "onOxygen": False, "systolicBp": 120, "pulse": 131,
        "consciousness": "ALERT", "temperature": 37.0}


@dataclass(frozen=True)
class Person:
    token: str
    tenant: int
    role: Role
    facilities: tuple[str, ...]

    def may_see(self, tenant: int, facility: str) -> bool:
        if tenant != self.tenant:
            return False
        return self.role is Role.ADMIN or facility in self.facilities


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the server -------------------------------------------------------------------------------

def serve(database_url: str, port: int) -> None:
    raise_fd_limit()
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    settings = settings_for_tests()
    settings = settings.with_overrides(
        log_level="WARNING", pool_max_size=20,
        limits=replace(settings.limits, rate_limit_per_minute=0,
                       subscription_queue_size=1000))
    uvicorn.run(create_app(settings, database_url), host="127.0.0.1", port=port,
                log_level="warning", loop="uvloop")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# -- the load generator (its own process) -----------------------------------------------------

async def subscribe_all(url: str, tokens: list[str]) -> None:
    """Open one subscription per token, say READY, record every alert's arrival until told to
    stop on stdin, then print them as JSON: [[subscriber, observationId, monotonic time]]."""
    from websockets.asyncio.client import connect

    ws_url = url.replace("http://", "ws://") + "/graphql"
    arrivals: list[tuple[int, str, float]] = []
    sockets = []
    readers: list[asyncio.Task[None]] = []

    async def reader(number: int, ws: Any) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "next":
                alert = message["payload"]["data"]["news2Alerts"]
                arrivals.append((number, alert["observationId"], time.monotonic()))

    async def open_one(number: int, token: str) -> None:
        ws = await connect(ws_url, subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                           max_queue=None, open_timeout=120)
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": SUBSCRIPTION}}))
        sockets.append(ws)
        readers.append(asyncio.create_task(reader(number, ws)))

    for start in range(0, len(tokens), 100):
        await asyncio.gather(*(open_one(n, tokens[n])
                               for n in range(start, min(start + 100, len(tokens)))))
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps(arrivals), flush=True)
    for ws in sockets:
        await ws.close()


# -- the driver -------------------------------------------------------------------------------

async def people(api: Api, admin_url: str, count: int) -> tuple[list[Person], list[TenantKit],
                                                                 dict[tuple[int, str], str]]:
    """`count` people over 2 tenants and 4 roles, and one patient per facility."""
    kits = [await make_tenant(api, admin_url) for _ in range(2)]
    patients: dict[tuple[int, str], str] = {}
    for number, kit in enumerate(kits):
        for code in FACILITIES:
            await kit.facility(code, "Europe/London")
            patients[(number, code)] = await kit.patient(kit.facilities[code])
    found: list[Person] = []
    for n in range(count):
        tenant, kit = n % 2, kits[n % 2]
        role = ROLES[(n // 2) % len(ROLES)]
        facilities = FACILITY_SETS[(n // 8) % len(FACILITY_SETS)]
        ids = [kit.facilities[code] for code in facilities]
        if role is Role.PARTNER:
            token = await kit.partner(list(PARTNER_SCOPES[(n // 32) % 2]), ids)
        else:
            token = await kit.user(role, ids)
        found.append(Person(token, tenant, role, facilities))
    return found, kits, patients


async def measure(url: str, admin_url: str, server_pid: int, sizes: list[int],
                  persons: int) -> bool:
    api = Api(url)
    exact = True
    try:
        crowd, kits, patients = await people(api, admin_url, persons)
        recorders = {(t, code): await kit.user(Role.NURSE, [kit.facilities[code]])
                     for t, kit in enumerate(kits) for code in FACILITIES}
        print(f"alerts fan-out: {persons} people over 2 tenants x 4 roles x "
              f"{len(FACILITY_SETS)} facility sets (partners with 2 scope sets); "
              f"{ALERTS_PER_SIZE} HIGH alerts per size, {ALERT_SPACING_SECONDS} s apart")
        print(f"  {'subscribers':>11} {'delivered':>10} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8} {'CPU ms/alert':>13} {'KiB/subscriber':>15}")
        for size in sizes:
            subscribers = [crowd[n % len(crowd)] for n in range(size)]
            rss_before = rss_bytes(server_pid)
            loadgen = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--subscribe", url,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**28)
            assert loadgen.stdin is not None and loadgen.stdout is not None
            loadgen.stdin.write(json.dumps([p.token for p in subscribers]).encode() + b"\n")
            await loadgen.stdin.drain()
            if (await loadgen.stdout.readline()).strip() != b"READY":
                raise RuntimeError("the load generator did not start")
            await asyncio.sleep(SETTLE_SECONDS)
            memory = (rss_bytes(server_pid) - rss_before) / size
            sent: dict[str, tuple[float, int, str]] = {}
            cpu_before = cpu_seconds(server_pid)
            for n in range(ALERTS_PER_SIZE):
                tenant, code = n % 2, FACILITIES[(n // 2) % len(FACILITIES)]
                started = time.monotonic()
                data = await api.data(RECORD, {"input": {"patientId": patients[(tenant, code)],
                                                         **HIGH}}, recorders[(tenant, code)])
                sent[data["recordObservation"]["id"]] = (started, tenant, code)
                await asyncio.sleep(ALERT_SPACING_SECONDS)
            await asyncio.sleep(SETTLE_SECONDS)
            cpu = cpu_seconds(server_pid) - cpu_before
            loadgen.stdin.write(b"stop\n")
            await loadgen.stdin.drain()
            arrivals = json.loads(await loadgen.stdout.readline())
            await asyncio.wait_for(loadgen.wait(), 60)
            latencies, wrong, got = [], 0, set()
            for number, observation, at in arrivals:
                started, tenant, code = sent[observation]
                latencies.append((at - started) * 1000)
                wrong += not subscribers[number].may_see(tenant, code)
                got.add((number, observation))
            expected = {(number, observation)
                        for number, person in enumerate(subscribers)
                        for observation, (_, tenant, code) in sent.items()
                        if person.may_see(tenant, code)}
            missed = len(expected - got)
            repeated = len(arrivals) - len(got)
            exact = exact and not (wrong or missed or repeated)
            quantiles = (statistics.quantiles(latencies, n=100, method="inclusive")
                         if len(latencies) > 1 else [0.0] * 99)
            print(f"  {size:>11,} {len(arrivals):>10,} {quantiles[49]:>8.0f} {quantiles[94]:>8.0f} "
                  f"{quantiles[98]:>8.0f} {max(latencies, default=0):>8.0f} "
                  f"{cpu * 1000 / ALERTS_PER_SIZE:>13.0f} {memory / 1024:>15.1f}")
            print(f"  {'':>11} expected {len(expected):,}; to someone who may not see it: "
                  f"{wrong}; missed: {missed}; repeated: {repeated}")
        return exact
    finally:
        await api.close()


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return 0
    if sys.argv[1:2] == ["--subscribe"]:
        raise_fd_limit()
        tokens = json.loads(sys.stdin.readline())
        asyncio.run(subscribe_all(sys.argv[2], tokens))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", default=os.environ.get(
        "BENCH_ALERT_SUBSCRIBERS", "100,1000,3000"))
    parser.add_argument("--people", type=int, default=int(os.environ.get(
        "BENCH_ALERT_PEOPLE", "600")), help="distinct people holding the subscriptions")
    args = parser.parse_args()
    sizes = [int(size) for size in args.subscribers.split(",")]
    raise_fd_limit()
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-bench-"))
    folder.chmod(0o755)  # as root the server runs as its own system user, which must get in
    server: EmbeddedPostgres | None = None
    app: subprocess.Popen[bytes] | None = None
    try:
        server = EmbeddedPostgres(folder / "pg", settings=THROWAWAY_SETTINGS)
        server.start()
        server.ensure_database()
        runner.upgrade(server.url())
        port = free_port()
        app = subprocess.Popen([sys.executable, __file__, "--serve", server.url(user="wg_api"),
                                str(port)])
        url = f"http://127.0.0.1:{port}"
        wait_ready(app, url, Probe("/readyz"))
        exact = asyncio.run(measure(url, server.url(), app.pid, sizes, args.people))
        print("  every alert reached exactly the subscribers who may see it" if exact
              else "  FAILED: some alert was missed, repeated or reached someone who may not "
                   "see it")
        return 0 if exact else 1
    finally:
        if app is not None:
            app.terminate()
            try:
                app.wait(20)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
