"""`make bench`: wardgraph against PostGraphile and against the floor, side by side in one run.

Run from the repository root: ``python bench/run_all.py [--quick] [options]``. A workload, not a
test: it prints figures and asserts no timing. It

1. starts an embedded PostgreSQL in a folder under /tmp (durability off, as in the tests) with
   pg_stat_statements, migrates it, and seeds it set-based (tests/seeding.py): by default 100
   tenants and 1,000,000 observations;
2. for the ward dashboard, patient search and recordObservation, runs each system in turn as a
   server process of its own on a loopback port — wardgraph (its app under uvicorn), the peer
   (PostGraphile 4 on the same database, roles and policies; bench/peer_postgraphile.*) and the
   floor (the same rows by raw asyncpg, no GraphQL; bench/floor.py) — and measures requests per
   second, p50 and p99 at each concurrency with a load generator in yet another process
   (bench/loadgen.py), then the SQL statements each request sent (pg_stat_statements, every
   top-level statement the server received, BEGIN and COMMIT included);
3. measures what the RLS policies cost (bench/rls_overhead.py);
4. prints the figures and the ratios wardgraph/PostGraphile and wardgraph/floor, and writes them
   to bench/results/latest.json; then runs the smaller benchmarks of bench/ (--no-others skips
   them).

Every figure can be made smaller for a quick run, by flag or environment variable (BENCH_*):
see --help. The server, the load generator and Postgres share the machine's CPUs; the figures
are ratios measured the same way in one run, not absolute capacities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

# Allow running as a script from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, optimisations, rls_overhead, servers
from bench.servers import Probe, ServerOptions
from bench.workloads import SYSTEMS, WORKLOADS, Workloads, dashboard_rows
from tests.seeding import Seeded, Shape, seed

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
READS = ("dashboard", "search")
SAMPLE_WARDS = 8


@dataclass
class Config:
    tenants: int
    observations: int
    duration: float
    warmup: float
    concurrency: list[int]
    count: int
    rls_seconds: float
    systems: list[str]
    workloads: list[str]
    others: bool
    options: ServerOptions
    optimisation_rounds: int
    optimisation_seconds: float

    def shape(self) -> Shape:
        """Two facilities per tenant, two wards of 25 beds each; patients and observations per
        patient sized to the observations asked for (25 per patient when there are enough)."""
        facilities, wards, beds = 2, 2, 25
        patients = max(wards * beds, min(200, self.observations // (
            self.tenants * facilities * 25)))
        per_patient = max(1, self.observations // (self.tenants * facilities * patients))
        return Shape(name="bench", tenants=self.tenants, facilities=facilities, wards=wards,
                     beds=beds, patients=patients, observations=per_patient)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def parse(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="100,000 observations, 20 tenants, 3-second measurements")
    parser.add_argument("--tenants", type=int, help="tenants (BENCH_TENANTS, 100)")
    parser.add_argument("--observations", type=int,
                        help="observations (BENCH_OBSERVATIONS, 1000000)")
    parser.add_argument("--duration", type=float,
                        help="seconds measured per figure (BENCH_DURATION, 8)")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (BENCH_WARMUP, 2)")
    parser.add_argument("--concurrency", help="clients, comma-separated (BENCH_CONCURRENCY, 1,32)")
    parser.add_argument("--count", type=int,
                        help="requests whose statements are counted (BENCH_COUNT, 20)")
    parser.add_argument("--rls-seconds", type=float,
                        help="seconds per round of the RLS comparison (BENCH_RLS_SECONDS, 2)")
    parser.add_argument("--systems", help=f"of {','.join(SYSTEMS)} (BENCH_SYSTEMS, all)")
    parser.add_argument("--workloads", help=f"of {','.join(WORKLOADS)} (BENCH_WORKLOADS, all)")
    parser.add_argument("--workers", type=int,
                        help="server processes of each system (BENCH_WORKERS, 1)")
    parser.add_argument("--pool", type=int, help="database connections of each system's pool "
                        "(BENCH_POOL, 20)")
    parser.add_argument("--loop", help="uvicorn event loop, uvloop or asyncio (BENCH_LOOP)")
    parser.add_argument("--http", help="uvicorn HTTP parser, httptools or h11 (BENCH_HTTP)")
    parser.add_argument("--optimisation-rounds", type=int,
                        help="rounds of the optimisation-by-optimisation comparison, 0 to skip "
                        "(BENCH_OPT_ROUNDS, 3)")
    parser.add_argument("--optimisation-seconds", type=float,
                        help="seconds measured per figure there (BENCH_OPT_DURATION, 5)")
    parser.add_argument("--no-others", action="store_true",
                        help="skip bench/news2_throughput.py, admission_race.py, scale_out.py "
                        "and alerts_fanout.py "
                        "(BENCH_OTHERS=0)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"

    def pick(given: Any, name: str, default: Any, quick_default: Any, kind: Any) -> Any:
        if given is not None:
            return given
        if os.environ.get(name):
            return kind(os.environ[name])
        return quick_default if quick else default

    concurrency = pick(args.concurrency, "BENCH_CONCURRENCY", "1,32", "1,32", str)
    systems = pick(args.systems, "BENCH_SYSTEMS", ",".join(SYSTEMS), ",".join(SYSTEMS), str)
    workloads = pick(args.workloads, "BENCH_WORKLOADS", ",".join(WORKLOADS),
                     ",".join(WORKLOADS), str)
    defaults = ServerOptions()
    options = ServerOptions(
        workers=pick(args.workers, "BENCH_WORKERS", defaults.workers, defaults.workers, int),
        pool_size=pick(args.pool, "BENCH_POOL", defaults.pool_size, defaults.pool_size, int),
        loop=pick(args.loop, "BENCH_LOOP", defaults.loop, defaults.loop, str),
        http=pick(args.http, "BENCH_HTTP", defaults.http, defaults.http, str))
    return Config(
        tenants=pick(args.tenants, "BENCH_TENANTS", 100, 20, int),
        observations=pick(args.observations, "BENCH_OBSERVATIONS", 1_000_000, 100_000, int),
        duration=pick(args.duration, "BENCH_DURATION", 8.0, 3.0, float),
        warmup=pick(args.warmup, "BENCH_WARMUP", 2.0, 1.0, float),
        concurrency=[int(c) for c in concurrency.split(",")],
        count=pick(args.count, "BENCH_COUNT", 20, 10, int),
        rls_seconds=pick(args.rls_seconds, "BENCH_RLS_SECONDS", 2.0, 1.0, float),
        systems=[s for s in systems.split(",") if s],
        workloads=[w for w in workloads.split(",") if w],
        others=not (args.no_others or os.environ.get("BENCH_OTHERS") == "0"),
        options=options,
        optimisation_rounds=pick(args.optimisation_rounds, "BENCH_OPT_ROUNDS", 3, 1, int),
        optimisation_seconds=pick(args.optimisation_seconds, "BENCH_OPT_DURATION", 5.0, 3.0,
                                  float),
    )


# -- running a system ----------------------------------------------------------------------------

@contextmanager
def system_server(system: str, db: database.BenchDatabase, workloads: Workloads,
                  options: ServerOptions) -> Iterator[str]:
    port = servers.free_port()
    place = workloads.places[0]
    if system == "wardgraph":
        command = servers.uvicorn_command("bench.servers:wardgraph_app", port, options)
        env = servers.wardgraph_env(db.url("wg_api"), options)
        probe = Probe("/readyz")
    elif system == "floor":
        command = servers.uvicorn_command("bench.floor:app", port, options)
        env = servers.wardgraph_env(db.url("wg_api"), options)
        probe = Probe("/search", body=json.dumps({"search": "x", "first": 1}),
                      token=workloads.token(place))
    else:
        command = servers.peer_command()
        env = servers.peer_env(db.url("wg_postgraphile"), port, options)
        probe = Probe("/graphql", body=json.dumps({"query": "{ __typename }"}),
                      token=workloads.token(place))
    with servers.running(command, env, port, probe) as url:
        yield url


def load(url: str, requests: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """One run of the load generator, in a process of its own."""
    host, port = url.removeprefix("http://").split(":")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump({"host": host, "port": int(port), "requests": requests, **spec}, file)
    try:
        finished = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("loadgen.py")), file.name],
            check=True, capture_output=True, text=True)
    finally:
        os.unlink(file.name)
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


def count_statements(db: database.BenchDatabase, url: str, requests: list[dict[str, Any]],
                     count: int) -> dict[str, Any]:
    """Statements per request: pg_stat_statements over `count` requests, one at a time."""
    load(url, requests, count=3)  # a connection's first use (type look-ups) is not counted
    asyncio.run(database.set_statement_tracking(db.admin_url, True))
    try:
        run = load(url, requests[3:] + requests[:3], count=count)
        total, kinds = asyncio.run(database.statements_since_reset(db.admin_url))
    finally:
        asyncio.run(database.set_statement_tracking(db.admin_url, False))
    return {"per_request": total / count, "errors": run["errors"],
            "statements": [{"calls_per_request": calls / count, "query": " ".join(q.split())[:160]}
                           for q, calls in kinds]}


def sample_dashboards(system: str, url: str, workloads: Workloads) -> list[Any]:
    """A few wards' dashboards, reduced to what all three systems must agree on."""
    answers = []
    for request in workloads.requests(system, "dashboard")[:SAMPLE_WARDS]:
        response = httpx.post(url + request["path"], content=request["body"], timeout=30,
                              headers={**request["headers"], "content-type": "application/json",
                                       "accept": "application/json"})
        response.raise_for_status()
        answers.append(dashboard_rows(system, response.json()))
    return answers


@dataclass
class Results:
    config: dict[str, Any]
    shape: dict[str, Any]
    seeded_seconds: float
    environment: dict[str, Any]
    throughput: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)
    rls: dict[str, Any] = field(default_factory=dict)
    ratios: dict[str, Any] = field(default_factory=dict)
    optimisations: dict[str, Any] = field(default_factory=dict)


def measure_system(system: str, workload_names: list[str], config: Config,
                   db: database.BenchDatabase, workloads: Workloads, results: Results,
                   samples: dict[str, Any]) -> None:
    with system_server(system, db, workloads, config.options) as url:
        if "dashboard" in workload_names:
            samples[system] = sample_dashboards(system, url, workloads)
        for workload in workload_names:
            requests = workloads.requests(system, workload)
            cell = results.throughput.setdefault(system, {}).setdefault(workload, {})
            for clients in config.concurrency:
                figures = load(url, requests, concurrency=clients, duration=config.duration,
                               warmup=config.warmup)
                cell[str(clients)] = figures
                note = f"  ERRORS {figures['errors']}: {figures['first_error']}" \
                    if figures["errors"] else ""
                print(f"  {system:<12} {workload:<9} c={clients:<3} {figures['rps']:>8.1f} rps"
                      f"  p50 {figures['p50_ms']:>7.1f} ms  p99 {figures['p99_ms']:>7.1f} ms"
                      f"{note}", flush=True)
            counted = count_statements(db, url, requests, config.count)
            results.statements.setdefault(system, {})[workload] = counted
            print(f"  {system:<12} {workload:<9} {counted['per_request']:.1f} statements "
                  "per request", flush=True)


def measure_optimisations(config: Config, db: database.BenchDatabase, workloads: Workloads,
                          results: Results) -> None:
    """The dashboard on wardgraph as shipped and with each optimisation undone, in rounds that
    alternate the variants (bench/optimisations.py)."""
    requests = workloads.requests("wardgraph", "dashboard")
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        v.name: {str(c): [] for c in config.concurrency} for v in optimisations.VARIANTS}
    for round_ in range(config.optimisation_rounds):
        # Every other round in reverse order: a drift over the run (the audit trail grows with
        # every request) weighs on each variant alike.
        order = optimisations.VARIANTS[::-1] if round_ % 2 else optimisations.VARIANTS
        for variant in order:
            options = optimisations.options_for(variant, config.options)
            port = servers.free_port()
            command = servers.uvicorn_command("bench.optimisations:app", port, options)
            env = {**servers.wardgraph_env(db.url("wg_api"), options),
                   optimisations.UNDO: variant.undo}
            with servers.running(command, env, port, Probe("/readyz")) as url:
                for clients in config.concurrency:
                    runs[variant.name][str(clients)].append(load(
                        url, requests, concurrency=clients,
                        duration=config.optimisation_seconds, warmup=1))
    results.optimisations = optimisations.summarise(runs)


# -- the report ----------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def compute_ratios(results: Results) -> None:
    t = results.throughput
    for workload in WORKLOADS:
        for clients, figures in t.get("wardgraph", {}).get(workload, {}).items():
            key = f"{workload}@{clients}"
            entry: dict[str, float] = {}
            for other, name in (("postgraphile", "vs_postgraphile"), ("floor", "vs_floor")):
                theirs = t.get(other, {}).get(workload, {}).get(clients)
                if theirs:
                    entry[name + "_rps"] = ratio(figures["rps"], theirs["rps"])
                    entry[name + "_p50"] = ratio(figures["p50_ms"], theirs["p50_ms"])
            results.ratios[key] = entry


def print_report(results: Results) -> None:
    print("\n== Throughput and latency (requests/s, p50 ms, p99 ms); statements per request ==")
    header = f"{'workload':<10}{'clients':>8}  " + "".join(
        f"{s:>30}" for s in SYSTEMS if s in results.throughput)
    print(header)
    for workload in WORKLOADS:
        clients_seen: list[str] = sorted(
            {c for s in results.throughput.values() for c in s.get(workload, {})}, key=int)
        for clients in clients_seen:
            line = f"{workload:<10}{clients:>8}  "
            for system in SYSTEMS:
                f = results.throughput.get(system, {}).get(workload, {}).get(clients)
                line += (f"{f['rps']:>10.1f} {f['p50_ms']:>8.1f} {f['p99_ms']:>9.1f}" if f
                         else f"{'':>30}" if system in results.throughput else "")
            print(line)
        line = f"{workload:<10}{'stmts':>8}  "
        for system in SYSTEMS:
            if system in results.statements:
                counted = results.statements[system].get(workload)
                line += f"{counted['per_request']:>30.1f}" if counted else f"{'':>30}"
        print(line)
    print("\n== Ratios (wardgraph / other): throughput, p50 latency ==")
    for key, entry in results.ratios.items():
        parts = [f"{name} {value:.2f}" for name, value in entry.items()]
        print(f"  {key:<14} " + ", ".join(parts))
    if results.agreement:
        print(f"\n== Answers: {results.agreement['verdict']}")
    if results.rls:
        print("\n== RLS overhead (nurse through the policies vs a BYPASSRLS role, same "
              "statements) ==")
        for name, r in results.rls.items():
            print(f"  {name:<10} end to end {r['policies_per_second']:8.1f} vs "
                  f"{r['bypass_per_second']:8.1f} ops/s ({r['end_to_end_overhead']:+.1%});"
                  f" in the database {r['policies_db_ms']:.3f} vs {r['bypass_db_ms']:.3f} ms "
                  f"per operation ({r['database_overhead']:+.1%})")


def print_optimisations(results: Results) -> None:
    if not results.optimisations:
        return
    print("\n== The dashboard on wardgraph, one optimisation undone at a time (medians); "
          "'kept buys' is the shipped throughput over this one's ==")
    for name, by_clients in results.optimisations.items():
        parts = [f"c={clients}: {f['rps']:7.1f} rps p99 {f['p99_ms']:7.1f} ms "
                 f"(kept buys x{f['shipped_rps_over_this']:.2f})"
                 for clients, f in by_clients.items()]
        print(f"  {name:<46} " + "; ".join(parts))


def check_agreement(samples: dict[str, Any], results: Results) -> None:
    if len(samples) < 2:
        return
    reference = samples.get("wardgraph") or next(iter(samples.values()))
    disagree = [system for system, answers in samples.items() if answers != reference]
    beds = sum(len(a) for a in reference)
    verdict = (f"all systems agree on {len(reference)} wards ({beds} beds: patient, latest "
               "observation and its NEWS2 total)" if not disagree
               else f"DISAGREE: {', '.join(disagree)} differ from wardgraph")
    results.agreement = {"wards": len(reference), "beds": beds, "disagree": disagree,
                         "verdict": verdict}


def environment() -> dict[str, Any]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "node": node.stdout.strip(), "machine": platform.machine()}


def run_others() -> None:
    for script in ("news2_throughput.py", "admission_race.py", "scale_out.py",
                   "alerts_fanout.py"):
        print(f"\n== bench/{script} ==", flush=True)
        subprocess.run([sys.executable, str(Path(__file__).with_name(script))], check=False)


async def seed_database(db: database.BenchDatabase, shape: Shape) -> Seeded:
    await database.prepare(db.admin_url)
    connection = await asyncpg.connect(db.admin_url)
    try:
        return await seed(connection, shape)
    finally:
        await connection.close()


def main(argv: list[str]) -> int:
    # Stopped with SIGTERM, still stop the Postgres server on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = parse(argv)
    shape = config.shape()
    print(f"wardgraph bench: {shape.tenants} tenants, {shape.total_observations:,} observations "
          f"({shape.patients} patients per facility, {shape.observations} observations each), "
          f"wards of {shape.beds} beds; systems {', '.join(config.systems)}; clients "
          f"{config.concurrency}; {config.warmup:g}+{config.duration:g} s per figure; "
          f"{config.options.workers} worker(s), pool {config.options.pool_size}, "
          f"{config.options.loop}/{config.options.http}", flush=True)
    if "postgraphile" in config.systems:
        servers.ensure_peer_installed()
    started = time.perf_counter()
    db = database.start()
    try:
        seeded = asyncio.run(seed_database(db, shape))
        print(f"seeded in {seeded.seconds:.1f} s (set-based, then ANALYZE)", flush=True)
        workloads = Workloads(seeded, config.options.jwt_secret)
        results = Results(config=asdict(config), shape=asdict(shape),
                          seeded_seconds=seeded.seconds, environment=environment())
        samples: dict[str, Any] = {}
        # Reads first, for every system, then writes: the answers compared are of the same data.
        reads = [w for w in config.workloads if w in READS]
        writes = [w for w in config.workloads if w not in READS]
        for names in (reads, writes):
            for system in config.systems:
                if names:
                    measure_system(system, names, config, db, workloads, results, samples)
        check_agreement(samples, results)
        if config.rls_seconds > 0:
            print("measuring the RLS overhead ...", flush=True)
            results.rls = rls_overhead.run(db, workloads, config.rls_seconds)
        if config.optimisation_rounds > 0 and "wardgraph" in config.systems:
            print("measuring each optimisation ...", flush=True)
            measure_optimisations(config, db, workloads, results)
        compute_ratios(results)
        print_report(results)
        print_optimisations(results)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(asdict(results), indent=2, default=str) + "\n")
        print(f"\nwritten to bench/results/{RESULTS.name}; {time.perf_counter() - started:.0f} s "
              "in all", flush=True)
    finally:
        db.stop()
    if config.others:
        run_others()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
