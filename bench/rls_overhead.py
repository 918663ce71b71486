"""What the RLS policies cost: wardgraph's own statements for the three operations, run the same
way twice — as the API runs them (wg_api becoming wg_nurse, claims set, every policy applied)
and as a role that bypasses RLS with the admin role's privileges (wg_bench_bypass; the same
claims are set, and the statements' own `tenant_id = $1` still scopes them to the tenant).

Two figures per operation, measured in rounds of one run each way, back to back:
  - end to end: operations per second on one connection, as a client sees them (asyncpg
    round trips included, so the policies' share is diluted by what both pay);
  - in the database: execution time per operation from pg_stat_statements, summed over the
    operation's statements (the policies' own cost, undiluted).
The machine is shared: a burst of someone else's work lands on whichever run is going. So
each round pairs two adjacent runs, every other round in the other order, and the figures
are the medians over the rounds (the overheads the median of each round's own ratio), not
totals a single burst could tip.
Recording runs in a transaction that is rolled back, so the tables stay as seeded.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench import database
from bench.floor import scored
from bench.workloads import Place, Workloads
from tests.seeding import FAMILY_NAMES, VITAL_SETS
from wardgraph.auth.claims import Claims, Role
from wardgraph.db import observations, organisation, patients, ward_occupancy
from wardgraph.db.session import SET_CLAIMS, Session, claim_values

ROUNDS = 5
BYPASS_ROLE = "wg_bench_bypass"

Operation = Callable[[Session, Place, int], Awaitable[None]]


@dataclass
class Figures:
    operations: int = 0
    seconds: float = 0.0
    database_ms: float = 0.0

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    @property
    def database_ms_per_operation(self) -> float:
        return self.database_ms / self.operations if self.operations else 0.0


class Operations:
    """The statements of each operation, as the resolvers send them, in the same order."""

    def __init__(self, workloads: Workloads) -> None:
        self.w = workloads
        self.seeded = workloads.seeded
        self.active = workloads.active_patients()

    async def dashboard(self, session: Session, place: Place, n: int) -> None:
        tenant = self.seeded.tenant_id(place.tenant)
        ward = self.seeded.ward_id(place.tenant, place.facility, 1 + n % self.w.shape.wards)
        await organisation.fetch_wards_with_facility_by_id(session, tenant, [ward])
        await ward_occupancy.fetch_beds_with_occupants(session, Role.NURSE, tenant, [ward])

    async def search(self, session: Session, place: Place, n: int) -> None:
        prefix = FAMILY_NAMES[n % len(FAMILY_NAMES)][:3].lower()
        await patients.fetch_patients_page(session, self.seeded.tenant_id(place.tenant),
                                           prefix, None, 21)

    async def record(self, session: Session, place: Place, n: int) -> None:
        patient = self.seeded.patient_id(place.tenant, place.facility,
                                         self.active[n % len(self.active)])
        vitals = VITAL_SETS[n % len(VITAL_SETS)]
        one, two, both = scored(vitals)
        new = observations.NewObservation(
            patient, datetime.now(UTC), self.seeded.nurse_id(place.tenant, place.facility), None,
            vitals.respiration_rate, vitals.spo2, vitals.on_oxygen, vitals.systolic_bp,
            vitals.pulse, vitals.consciousness.value, vitals.temperature, None)
        tenant = self.seeded.tenant_id(place.tenant)
        row = await observations.insert_observation(session, tenant, new, both)
        assert row is not None, "the patient must be visible to the nurse"
        if (two if row["spo2_scale"] == 2 else one).escalates:
            await observations.insert_escalation(session, tenant, row["id"], new.recorded_at)


# The statements whose execution time counts for each operation.
STATEMENTS = {
    "dashboard": (organisation.FETCH_WARDS_WITH_FACILITY_BY_ID,
                  ward_occupancy.FETCH_BEDS_WITH_OCCUPANTS),
    "search": (patients.SEARCH_PATIENTS_PAGE,),
    "record": (observations.INSERT_OBSERVATION, observations.INSERT_ESCALATION),
}

EXECUTION_TIME = """
select coalesce(sum(s.total_exec_time), 0)
from pg_stat_statements s join pg_roles r on r.oid = s.userid
where r.rolname = $1 and s.query = any ($2::text[])
"""


class Runner:
    """One connection per way of running: "policies" (wg_api becoming wg_nurse) and "bypass"
    (wg_bench_bypass staying itself), each setting the same claims."""

    def __init__(self, workloads: Workloads) -> None:
        self.workloads = workloads
        self.claims: dict[tuple[str, Place], tuple[str, ...]] = {}

    def claim_values(self, who: str, place: Place) -> tuple[str, ...]:
        key = (who, place)
        if key not in self.claims:
            seeded = self.workloads.seeded
            nurse = Claims(tenant_id=seeded.tenant_id(place.tenant), role=Role.NURSE,
                           user_id=seeded.nurse_id(place.tenant, place.facility),
                           facility_ids=(seeded.facility_id(place.tenant, place.facility),))
            values = list(claim_values(nurse, uuid.uuid4().hex, 5000))
            if who == "bypass":
                values[0] = BYPASS_ROLE  # stays itself: no policy applies to it
            self.claims[key] = tuple(values)
        return self.claims[key]

    async def rounds(self, connection: asyncpg.Connection, who: str, operation: Operation,
                     commit: bool, seconds: float, figures: Figures) -> None:
        """As many operations as fit in `seconds`, each in a transaction of its own."""
        places = self.workloads.places
        n = 0
        started = time.perf_counter()
        until = started + seconds
        while time.perf_counter() < until:
            place = places[n % len(places)]
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.execute(SET_CLAIMS, *self.claim_values(who, place))
                await operation(Session(connection), place, n)
            finally:
                if commit:
                    await transaction.commit()
                else:
                    await transaction.rollback()
            n += 1
        figures.operations += n
        figures.seconds += time.perf_counter() - started


async def measure(db: database.BenchDatabase, workloads: Workloads, seconds_per_round: float,
                  names: tuple[str, ...] = tuple(STATEMENTS)) -> dict[str, dict[str, Any]]:
    """For each operation named: both ways' figures and the overhead of the policies."""
    ops = Operations(workloads)
    runner = Runner(workloads)
    operations: dict[str, tuple[Operation, bool]] = {
        "dashboard": (ops.dashboard, True), "search": (ops.search, True),
        "record": (ops.record, False)}
    roles = {"policies": Role.NURSE.db_role, "bypass": BYPASS_ROLE}
    connections = {"policies": await asyncpg.connect(db.url("wg_api")),
                   "bypass": await asyncpg.connect(db.url(BYPASS_ROLE))}
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            operation, commit = operations[name]
            statements = [q.strip() for q in STATEMENTS[name]]
            rounds: dict[str, list[Figures]] = {who: [] for who in connections}
            # Warm both connections' statement caches before anything is counted.
            for who, connection in connections.items():
                await runner.rounds(connection, who, operation, commit, 0.5, Figures())
            await database.set_statement_tracking(db.admin_url, True)
            for number in range(ROUNDS):
                order = list(connections) if number % 2 == 0 else list(connections)[::-1]
                for who in order:
                    figures = Figures()
                    before = await execution_ms(db, roles[who], statements)
                    await runner.rounds(connections[who], who, operation, commit,
                                        seconds_per_round, figures)
                    figures.database_ms = await execution_ms(db, roles[who], statements) - before
                    rounds[who].append(figures)
            await database.set_statement_tracking(db.admin_url, False)
            results[name] = report(rounds["policies"], rounds["bypass"])
    finally:
        for connection in connections.values():
            await connection.close()
    return results


async def execution_ms(db: database.BenchDatabase, role: str, statements: list[str]) -> float:
    """Execution time of these statements as this role since tracking began (pg_stat_statements
    keeps each statement's text trimmed)."""
    connection = await asyncpg.connect(db.admin_url)
    try:
        return float(await connection.fetchval(EXECUTION_TIME, role, statements))
    finally:
        await connection.close()


def report(policies: list[Figures], bypass: list[Figures]) -> dict[str, Any]:
    """Medians over the rounds; each overhead is the median of the rounds' own ratios."""
    pairs = list(zip(policies, bypass, strict=True))
    return {
        "rounds": len(pairs),
        "policies_per_second": statistics.median(p.per_second for p in policies),
        "bypass_per_second": statistics.median(b.per_second for b in bypass),
        "end_to_end_overhead": statistics.median(
            b.per_second / p.per_second - 1 if p.per_second else float("nan")
            for p, b in pairs),
        "policies_db_ms": statistics.median(p.database_ms_per_operation for p in policies),
        "bypass_db_ms": statistics.median(b.database_ms_per_operation for b in bypass),
        "database_overhead": statistics.median(
            p.database_ms_per_operation / b.database_ms_per_operation - 1
            if b.database_ms_per_operation else float("nan") for p, b in pairs),
    }


def run(db: database.BenchDatabase, workloads: Workloads,
        seconds_per_round: float) -> dict[str, dict[str, Any]]:
    return asyncio.run(measure(db, workloads, seconds_per_round))
