"""`make bench`: wardgraph against PostGraphile and against the floor, side by side in one run.

Run from the repository root: ``python bench/run_all.py [--quick] [options]``. A workload, not a
test: it prints figures and asserts no timing. It

1. starts an embedded PostgreSQL in a folder under /tmp (durability off, as in the tests) with
   pg_stat_statements, migrates it, and seeds it set-based (tests/seeding.py): by default 100
   tenants and 1,000,000 observations;
2. starts each system as a server process of its own on a loopback port — wardgraph (its app
   under uvicorn), the peers (PostGraphile 5 and 4 on the same database, roles and policies;
   bench/peer_postgraphile*) and the floor (the same rows by raw asyncpg, no GraphQL;
   bench/floor.py) — and, for the ward dashboard, patient search and recordObservation at each
   concurrency, measures them in short alternating rounds (A B C A B C ...; bench/rounds.py) with
   a load generator in yet another process (bench/loadgen.py): requests per second, p50 and p99
   as medians over the rounds, and each ratio to wardgraph with its spread; then the SQL
   statements each request sent (pg_stat_statements, every top-level statement the server
   received, BEGIN and COMMIT included); then the same rounds with 2 processes per system;
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
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx

# Allow running as a script from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, optimisations, rls_overhead, rounds, servers
from bench.servers import PEERS, Probe, ServerOptions
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
    rounds: int
    scale_workers: int
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
                        help="for development (make bench-quick, under 3 minutes): 100,000 "
                        "observations, 20 tenants, wardgraph against PostGraphile 5 and the "
                        "floor in 3 one-second rounds, nothing else")
    parser.add_argument("--tenants", type=int, help="tenants (BENCH_TENANTS, 100)")
    parser.add_argument("--observations", type=int,
                        help="observations (BENCH_OBSERVATIONS, 1000000)")
    parser.add_argument("--duration", type=float,
                        help="seconds measured per system per round (BENCH_DURATION, 2.5)")
    parser.add_argument("--warmup", type=float,
                        help="seconds of each round's turn before measuring (BENCH_WARMUP, 0.5)")
    parser.add_argument("--rounds", type=int,
                        help="alternating rounds per figure (BENCH_ROUNDS, 5)")
    parser.add_argument("--scale-workers", type=int,
                        help="processes per system for the extra rows at the largest "
                        "concurrency, 0 to skip (BENCH_SCALE_WORKERS, 2)")
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
                        "(BENCH_OPT_ROUNDS, 2)")
    parser.add_argument("--optimisation-seconds", type=float,
                        help="seconds measured per figure there (BENCH_OPT_DURATION, 3)")
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
    systems = pick(args.systems, "BENCH_SYSTEMS", ",".join(SYSTEMS),
                   "wardgraph,postgraphile5,floor", str)
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
        duration=pick(args.duration, "BENCH_DURATION", 2.5, 1.0, float),
        warmup=pick(args.warmup, "BENCH_WARMUP", 0.5, 0.3, float),
        rounds=pick(args.rounds, "BENCH_ROUNDS", 5, 3, int),
        scale_workers=pick(args.scale_workers, "BENCH_SCALE_WORKERS", 2, 0, int),
        concurrency=[int(c) for c in concurrency.split(",")],
        count=pick(args.count, "BENCH_COUNT", 20, 10, int),
        rls_seconds=pick(args.rls_seconds, "BENCH_RLS_SECONDS", 2.0, 0.0, float),
        systems=[s for s in systems.split(",") if s],
        workloads=[w for w in workloads.split(",") if w],
        others=not (args.no_others or quick or os.environ.get("BENCH_OTHERS") == "0"),
        options=options,
        optimisation_rounds=pick(args.optimisation_rounds, "BENCH_OPT_ROUNDS", 2, 0, int),
        optimisation_seconds=pick(args.optimisation_seconds, "BENCH_OPT_DURATION", 3.0, 3.0,
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
        command = servers.peer_command(system)
        env = servers.peer_env(system, db.url("wg_postgraphile"), port, options)
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
    # system -> workload -> clients -> medians over the rounds, with each round's figures
    throughput: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # the same, with config.scale_workers processes per system, at the largest concurrency
    scaled: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)
    rls: dict[str, Any] = field(default_factory=dict)
    # "workload@clients" (or "...@clients/wN") -> "vs_<system>" -> median ratio and spread
    ratios: dict[str, Any] = field(default_factory=dict)
    optimisations: dict[str, Any] = field(default_factory=dict)


def measure_in_rounds(systems: list[str], workload_names: list[str], concurrency: list[int],
                      config: Config, db: database.BenchDatabase, workloads: Workloads,
                      options: ServerOptions, into: dict[str, dict[str, dict[str, Any]]],
                      ratios: dict[str, Any], suffix: str = "",
                      samples: dict[str, Any] | None = None,
                      results: Results | None = None) -> None:
    """Every system started once, then each workload at each concurrency in alternating rounds;
    statements per request counted afterwards when `results` is given."""
    with ExitStack() as stack:
        urls = {system: stack.enter_context(system_server(system, db, workloads, options))
                for system in systems}
        if samples is not None and "dashboard" in workload_names:
            for system, url in urls.items():
                samples[system] = sample_dashboards(system, url, workloads)
        for workload in workload_names:
            requests = {system: workloads.requests(system, workload) for system in systems}

            def measure(system: str, clients: int, duration: float, warmup: float,
                        requests: dict[str, list[dict[str, Any]]] = requests) -> dict[str, Any]:
                return load(urls[system], requests[system], concurrency=clients,
                            duration=duration, warmup=warmup)

            for system in systems:  # each server's first requests (JIT, caches) not measured
                measure(system, max(concurrency), config.warmup * 2, 0)
            for clients in concurrency:
                print(f"  {workload} at {clients} client(s){suffix}: {config.rounds} rounds of "
                      f"{', '.join(systems)}", flush=True)
                runs = rounds.alternate(systems, measure, clients, config.rounds,
                                        config.duration, config.warmup)
                for system, figures in runs.items():
                    cell = rounds.summary(figures)
                    into.setdefault(system, {}).setdefault(workload, {})[str(clients)] = cell
                    note = f"  ERRORS {cell['errors']}: {cell['first_error']}" \
                        if cell["errors"] else ""
                    print(f"    {system:<14} {cell['rps']:>8.1f} rps ({cell['rps_min']:.1f}-"
                          f"{cell['rps_max']:.1f})  p50 {cell['p50_ms']:>7.1f} ms  p99 "
                          f"{cell['p99_ms']:>7.1f} ms{note}", flush=True)
                if "wardgraph" in runs:
                    entry = ratios.setdefault(f"{workload}@{clients}{suffix}", {})
                    for other in systems:
                        if other != "wardgraph":
                            entry[f"vs_{other}"] = rounds.ratio(runs["wardgraph"], runs[other])
            if results is not None:
                for system in systems:
                    counted = count_statements(db, urls[system], requests[system], config.count)
                    results.statements.setdefault(system, {})[workload] = counted
                    print(f"    {system:<14} {counted['per_request']:.1f} statements per "
                          "request", flush=True)


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

def print_table(title: str, table: dict[str, dict[str, dict[str, Any]]],
                ratios: dict[str, Any], suffix: str, results: Results | None) -> None:
    print(f"\n== {title} ==")
    print("medians over the rounds: requests/s (min-max), p50 ms, p99 ms")
    systems = [s for s in SYSTEMS if s in table]
    for workload in WORKLOADS:
        clients_seen = sorted({c for s in table.values() for c in s.get(workload, {})}, key=int)
        for clients in clients_seen:
            print(f"{workload} at {clients} client(s){suffix}")
            for system in systems:
                f = table[system].get(workload, {}).get(clients)
                if f:
                    print(f"  {system:<14}{f['rps']:>9.1f} ({f['rps_min']:7.1f}-"
                          f"{f['rps_max']:7.1f}){f['p50_ms']:>8.1f}{f['p99_ms']:>9.1f}")
            for name, r in ratios.get(f"{workload}@{clients}{suffix}", {}).items():
                print(f"  wardgraph {name:<17} throughput x{r['rps']:.2f} ({r['rps_min']:.2f}-"
                      f"{r['rps_max']:.2f}, spread {r['rps_spread']:.0%}), p99 x{r['p99']:.2f}")
        if results is not None:
            counts = [f"{system} {results.statements[system][workload]['per_request']:.1f}"
                      for system in systems
                      if workload in results.statements.get(system, {})]
            if counts:
                print(f"  statements per request: {', '.join(counts)}")


def print_report(results: Results, config: Config) -> None:
    print_table(f"Throughput and latency, {config.options.workers} process(es) per system",
                results.throughput, results.ratios, "", results)
    if results.scaled:
        print_table(f"With {config.scale_workers} processes per system",
                    results.scaled, results.ratios, f"/w{config.scale_workers}", None)
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
    for system in config.systems:
        if system in PEERS:
            servers.ensure_peer_installed(system)
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
            if names:
                measure_in_rounds(config.systems, names, config.concurrency, config, db,
                                  workloads, config.options, results.throughput, results.ratios,
                                  samples=samples, results=results)
        scaled = [s for s in config.systems if s == "wardgraph" or s in PEERS]
        if config.scale_workers > 1 and "wardgraph" in scaled and len(scaled) > 1:
            options = replace(config.options, workers=config.scale_workers)
            for names in (reads, writes):
                if names:
                    measure_in_rounds(scaled, names, [max(config.concurrency)], config, db,
                                      workloads, options, results.scaled, results.ratios,
                                      suffix=f"/w{config.scale_workers}")
        check_agreement(samples, results)
        if config.rls_seconds > 0:
            print("measuring the RLS overhead ...", flush=True)
            results.rls = rls_overhead.run(db, workloads, config.rls_seconds)
        if config.optimisation_rounds > 0 and "wardgraph" in config.systems:
            print("measuring each optimisation ...", flush=True)
            measure_optimisations(config, db, workloads, results)
        print_report(results, config)
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
