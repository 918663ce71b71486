"""Admission race: 200 concurrent admitPatient attempts by 200 patients over 20 beds.

Run from the repository root: ``python bench/admission_race.py``. It starts its own embedded
PostgreSQL in a temporary folder and the app under uvicorn on a loopback port (in a process of its
own, so the client's work is not counted as the server's), creates a tenant,
a facility, a ward of 20 beds and 200 patients, then fires the 200 admissions at once, each on
its own HTTP connection. Exactly 20 must succeed (one per bed), the rest refused by the
database with BED_OCCUPIED. Several rounds run; between rounds the winners are discharged.
Side by side in each round, the same 200 patients are admitted at once to 200 free beds, so
the figures read as a ratio: what contention for 20 beds costs against none.

Prints figures only and asserts no timing; exits non-zero if any round admitted other than
exactly one patient per bed. The Postgres server and its folder are removed at the end.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import uvicorn

# Allow running as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import Probe, free_port, running
from tests.admitting import (
    ADMIT,
    DISCHARGE,
    admit_input,
    beds,
    discharge_input,
    outcomes,
    patients,
    released_together,
)
from tests.factories import make_tenant
from tests.harness import Api, settings_for_tests
from wardgraph.auth.claims import Role
from wardgraph.config import Settings
from wardgraph.db.embedded import THROWAWAY_SETTINGS, EmbeddedPostgres
from wardgraph.migrations import runner
from wardgraph.server.app import create_app

BEDS = 20
PATIENTS = 200
ROUNDS = 5
DISCHARGE_BATCH = 50  # winners discharged concurrently between rounds
KEEP_ALIVE_SECONDS = 120


def start_postgres(folder: Path) -> EmbeddedPostgres:
    server = EmbeddedPostgres(folder / "pg", settings=THROWAWAY_SETTINGS)
    server.start()
    server.ensure_database()
    runner.upgrade(server.url())
    return server


def bench_settings() -> Settings:
    """The tests' settings, without the per-user rate limit: one nurse sends every attempt
    here, and the figures are of admitting, not of the limiter."""
    settings = settings_for_tests()
    return settings.with_overrides(limits=replace(settings.limits, rate_limit_per_minute=0))


def serve(database_url: str, port: int) -> None:
    """The app, as the server process runs it."""
    # The refusals are the expected outcome here; do not log a traceback for each one.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    # Idle client connections are kept longer than a round lasts: a connection the server
    # closes for idleness just as the client reuses it would fail that request.
    uvicorn.run(create_app(bench_settings(), database_url), host="127.0.0.1", port=port,
                log_level="warning", timeout_keep_alive=KEEP_ALIVE_SECONDS)


@contextmanager
def app_server(database_url: str) -> Iterator[str]:
    """This script again, as the server, on a free loopback port; stopped on the way out."""
    port = free_port()
    with running([sys.executable, __file__, "--serve", database_url, str(port)], {}, port,
                 Probe("/readyz")) as url:
        yield url


async def fire(api: Api, nurse: str, bed_ids: list[str],
               patient_ids: list[str]) -> tuple[dict[str, int], float, list[str]]:
    """Admit patient n to bed n mod beds, all at once: (outcome counts, elapsed seconds, ids of
    the admissions that succeeded)."""
    attempts = [(ADMIT, admit_input(patient, bed_ids[n % len(bed_ids)]), nurse)
                for n, patient in enumerate(patient_ids)]
    started = time.perf_counter()
    responses = await released_together(api, attempts)
    elapsed = time.perf_counter() - started
    admitted = [r.json()["data"]["admitPatient"]["id"] for r in responses
                if r.status_code == 200 and not r.json().get("errors")]
    return dict(outcomes(responses)), elapsed, admitted


async def discharge_all(api: Api, nurse: str, admissions: list[str]) -> None:
    for start in range(0, len(admissions), DISCHARGE_BATCH):
        await asyncio.gather(*(api.data(DISCHARGE, discharge_input(a), nurse)
                               for a in admissions[start:start + DISCHARGE_BATCH]))


async def race(url: str, admin_url: str) -> bool:
    api = Api(url)
    try:
        kit = await make_tenant(api, admin_url)
        facility = await kit.facility("BNC", "Asia/Dhaka")
        contended_beds = await beds(kit, await kit.ward(facility, name="Contended"), BEDS)
        free_beds = await beds(kit, await kit.ward(facility, name="Uncontended"), PATIENTS)
        patient_ids = await patients(kit, facility, PATIENTS)
        nurse = await kit.user(Role.NURSE, [facility])
        print(f"admission race: {PATIENTS} concurrent admitPatient attempts over {BEDS} beds, "
              f"{ROUNDS} rounds (server pool: {bench_settings().pool_max_size} connections); "
              f"side by side, the same {PATIENTS} patients admitted at once to {PATIENTS} free "
              "beds")
        contended: list[float] = []
        uncontended: list[float] = []
        exact = True
        for round_ in range(1, ROUNDS + 1):
            counted, elapsed, admitted = await fire(api, nurse, contended_beds, patient_ids)
            contended.append(PATIENTS / elapsed)
            succeeded = counted.pop("OK", 0)
            exact = exact and succeeded == BEDS
            refused = ", ".join(f"{count} {code}" for code, count in sorted(counted.items()))
            print(f"  round {round_}: {succeeded} admitted (expected {BEDS}), refused: "
                  f"{refused or 'none'}; {elapsed * 1000:,.0f} ms, "
                  f"{PATIENTS / elapsed:,.0f} attempts/s")
            await discharge_all(api, nurse, admitted)
            counted, elapsed, admitted = await fire(api, nurse, free_beds, patient_ids)
            uncontended.append(PATIENTS / elapsed)
            exact = exact and counted == {"OK": PATIENTS}
            print(f"    uncontended: {counted.get('OK', 0)} admitted (expected {PATIENTS}); "
                  f"{elapsed * 1000:,.0f} ms, {PATIENTS / elapsed:,.0f} admissions/s")
            await discharge_all(api, nurse, admitted)
        median = statistics.median(contended)
        print(f"  contended median: {median:,.0f} attempts/s "
              f"(best {max(contended):,.0f}, worst {min(contended):,.0f})")
        print(f"  uncontended median: {statistics.median(uncontended):,.0f} admissions/s; "
              f"contended / uncontended: {median / statistics.median(uncontended):.2f}")
        print("  exactly one admission per bed in every round" if exact
              else "  FAILED: some round did not admit exactly one patient per bed")
        return exact
    finally:
        await api.close()


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-bench-"))
    folder.chmod(0o755)  # as root the server runs as its own system user, which must get in
    server: EmbeddedPostgres | None = None
    try:
        server = start_postgres(folder)
        with app_server(server.url(user="wg_api")) as url:
            exact = asyncio.run(race(url, server.url()))
        return 0 if exact else 1
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
