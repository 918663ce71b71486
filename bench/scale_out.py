"""Throughput of `wardgraph serve` with 1 and 2 worker processes, each straight to PostgreSQL
and through PgBouncer in transaction mode (docs/scaling.md reports the figures).

Run from the repository root: ``python bench/scale_out.py``. A workload, not a test: it prints
figures and asserts no timing. It starts an embedded PostgreSQL under /tmp, migrates it and
adds two tenants, then for each of the four set-ups runs `wardgraph serve --workers N` as an
operator does (production settings, the shared rate limit on but out of reach, so each request
pays its bucket's upsert) and a closed-loop load generator in a process of its own
(bench/loadgen.py): a read of the caller's tenant and facilities under RLS, from eight callers
of two tenants. PgBouncer (Debian's `pgbouncer`) is skipped, with a line saying so, where it
is not installed.

Client, servers, PgBouncer and PostgreSQL share the machine's CPUs: on two cores, a second
worker competes with them all. Compare the rows of one run with each other.

    BENCH_SCALE_SECONDS (10), BENCH_SCALE_CLIENTS (32), BENCH_SCALE_POOL (20)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

# Allow running as a script from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database
from bench.servers import Probe, ServerOptions, free_port, running
from tests.pgbouncer import PgBouncer, pgbouncer_missing_reason
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import issue_user_token
from wardgraph.config import Settings
from wardgraph.db import organisation
from wardgraph.db.operator import OPERATOR_STATEMENT_TIMEOUT_MS, insert_tenant, tenant_admin
from wardgraph.db.session import claimed_transaction

QUERY = ("query Who { viewer { role tenant { slug } } "
         "facilities(first: 10) { edges { node { code } } } }")
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "10"))
WARMUP = 2.0
CLIENTS = int(os.environ.get("BENCH_SCALE_CLIENTS", "32"))
POOL = int(os.environ.get("BENCH_SCALE_POOL", "20"))
LOADGEN = Path(__file__).with_name("loadgen.py")
OPTIONS = ServerOptions()


async def callers(admin_url: str) -> list[str]:
    """Two tenants with two facilities; an admin and three staff in each: their tokens."""
    settings = Settings(jwt_secret=OPTIONS.jwt_secret)
    now = datetime.now(UTC)
    tokens: list[str] = []
    connection = await asyncpg.connect(admin_url)
    try:
        for n in (1, 2):
            tenant = (await insert_tenant(connection, f"scale-{n}", f"Scale {n}"))["tenant_id"]
            async with claimed_transaction(connection, tenant_admin(tenant), "bench",
                                           OPERATOR_STATEMENT_TIMEOUT_MS) as session:
                facilities = [(await organisation.insert_facility(
                    session, tenant, f"S{n}{x}", f"Site {x}", "UTC", "USD"))["id"]
                    for x in "AB"]
                for role, where in ((Role.ADMIN, facilities), (Role.NURSE, facilities[:1]),
                                    (Role.CLINICIAN, facilities[1:]),
                                    (Role.BILLING, facilities)):
                    user = await organisation.insert_user(
                        session, tenant, f"{role.value.lower()}@scale-{n}.example",
                        role.value, role.value, None, list(where))
                    claims = Claims(tenant_id=tenant, role=role, user_id=user["id"],
                                    facility_ids=tuple(where))
                    tokens.append(issue_user_token(settings, claims, now, timedelta(hours=2)))
    finally:
        await connection.close()
    return tokens


def serve_env(api_url: str, workers: int, listen_url: str | None) -> dict[str, str]:
    env = {
        "WARDGRAPH_ENV": "production", "WARDGRAPH_DATABASE_URL": api_url,
        "WARDGRAPH_JWT_SECRET": OPTIONS.jwt_secret, "WARDGRAPH_WORKERS": str(workers),
        "WARDGRAPH_RATE_LIMIT_PER_MINUTE": "1000000000",
        "WARDGRAPH_POOL_MIN_SIZE": "4", "WARDGRAPH_POOL_MAX_SIZE": str(POOL),
        "WARDGRAPH_LOG_LEVEL": "WARNING",
    }
    if listen_url is not None:
        env.update({"WARDGRAPH_STATEMENT_CACHE_SIZE": "0",
                    "WARDGRAPH_LISTEN_DATABASE_URL": listen_url})
    return env


def measure(api_url: str, workers: int, listen_url: str | None,
            tokens: list[str]) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, "-m", "wardgraph.ops.cli", "serve", "--port", str(port)]
    body = json.dumps({"query": QUERY})
    probe = Probe("/graphql", body, tokens[0])
    with running(command, serve_env(api_url, workers, listen_url), port, probe):
        spec = {"host": "127.0.0.1", "port": port, "concurrency": CLIENTS,
                "duration": SECONDS, "warmup": WARMUP,
                "requests": [{"path": "/graphql", "body": body,
                              "headers": {"Authorization": f"Bearer {t}"}} for t in tokens]}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(spec, file)
        try:
            output = subprocess.run([sys.executable, str(LOADGEN), file.name], check=True,
                                    capture_output=True, text=True).stdout
        finally:
            os.unlink(file.name)
    result: dict[str, Any] = json.loads(output)
    return result


def main() -> int:
    db = database.start()
    bouncer: PgBouncer | None = None
    try:
        tokens = asyncio.run(callers(db.admin_url))
        api_url = db.url("wg_api")
        paths: list[tuple[str, str, str | None]] = [("direct", api_url, None)]
        missing = pgbouncer_missing_reason()
        if missing is None:
            bouncer = PgBouncer(api_url, POOL)
            bouncer.start()
            paths.append(("pgbouncer", bouncer.url, api_url))
        print(f"scale-out: {QUERY[:40]}..., {len(tokens)} callers, {CLIENTS} clients, "
              f"{SECONDS:.0f} s each, pool {POOL} per worker", flush=True)
        print(f"{'workers':>7}  {'path':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>6}", flush=True)
        for name, url, listen in paths:
            for workers in (1, 2):
                r = measure(url, workers, listen, tokens)
                print(f"{workers:>7}  {name:<10} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} "
                      f"{r['p99_ms']:>8.1f} {r['errors']:>6}", flush=True)
                if r["first_error"]:
                    print(f"         first error: {r['first_error']}", flush=True)
        if missing is not None:
            print(f"PgBouncer rows skipped: {missing}")
    finally:
        if bouncer is not None:
            bouncer.stop()
        db.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
