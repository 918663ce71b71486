"""The floor: the same rows as wardgraph's three operations, fetched with raw asyncpg under the
same login role, role and claims, answered as JSON over the same HTTP server (uvicorn), with no
GraphQL. What is left of a request when the GraphQL layer is taken away.

  POST /dashboard {"ward"}      one statement: the ward's beds, active admissions, patients and
                                each patient's latest observation (joined, not one per level)
  POST /search {"search", "first"}  wardgraph's own patient search statement
  POST /record {"input": {...}}     wardgraph's own INSERT ... SELECT of an observation (and its
                                    escalation), scored with wardgraph.news2 as wardgraph does

Authentication is wardgraph's: the same JWT, decoded by wardgraph.auth.tokens. No audit events are
written (wardgraph writes one per patient, admission and observation it shows).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from wardgraph import news2
from wardgraph.auth.claims import Claims
from wardgraph.auth.tokens import AuthError, decode_user_token
from wardgraph.config import Settings
from wardgraph.db import observations, patients
from wardgraph.db.pool import keep_session
from wardgraph.db.session import SET_CLAIMS, Session, claim_values

DASHBOARD = """
select w.name as ward, b.id as bed_id, b.label, a.id as admission_id, a.number, a.admitted_at,
       p.id as patient_id, p.mrn, p.given_name, p.family_name, p.birth_date,
       o.id as observation_id, o.recorded_at, o.respiration_rate, o.spo2, o.on_oxygen,
       o.systolic_bp, o.pulse, o.consciousness::text as consciousness, o.temperature,
       o.spo2_scale, o.news2_total, o.news2_risk::text as news2_risk, o.news2_red_score
from app.wards w
join app.beds b on b.tenant_id = w.tenant_id and b.ward_id = w.id
left join app.admissions a
    on a.tenant_id = b.tenant_id and a.bed_id = b.id and a.status = 'ACTIVE'
left join app.patients p on p.tenant_id = a.tenant_id and p.id = a.patient_id
left join lateral (
    select * from app.observations o
    where o.tenant_id = p.tenant_id and o.patient_id = p.id
    order by o.recorded_at desc, o.id desc
    limit 1) o on true
where w.tenant_id = $1 and w.id = $2
order by b.label
"""

STATEMENT_TIMEOUT_MS = 5000


def scored(vitals: news2.Vitals) -> tuple[news2.News2Score, news2.News2Score,
                                          observations.ScoreOnEachScale]:
    """The score on each SpO2 scale, as wardgraph's resolver passes them to the INSERT."""
    one, two = (news2.score(vitals, scale) for scale in news2.Spo2Scale)
    return one, two, observations.ScoreOnEachScale(
        (one.total, two.total), (one.risk.value, two.risk.value), (one.red_score, two.red_score))


def json_response(status: int, payload: Any) -> tuple[int, bytes]:
    # Decimals and asyncpg's own UUID type are written as their text.
    return status, orjson.dumps(payload, default=str)


class Floor:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        # As wardgraph's pool: no reset round trip on release (claims are transaction-local).
        self.pool = await asyncpg.create_pool(
            self.database_url, min_size=2, max_size=self.settings.pool_max_size,
            reset=keep_session)

    async def answer(self, path: str, authorization: str, body: bytes) -> tuple[int, bytes]:
        try:
            claims = decode_user_token(self.settings, authorization.removeprefix("Bearer "),
                                       datetime.now(UTC))
        except AuthError:
            return json_response(401, {"errors": [{"message": "unauthenticated"}]})
        given = orjson.loads(body)
        assert self.pool is not None
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(SET_CLAIMS, *claim_values(
                claims, uuid.uuid4().hex, STATEMENT_TIMEOUT_MS))
            session = Session(connection)
            if path == "/dashboard":
                rows = await session.fetch(DASHBOARD, claims.tenant_id,
                                           uuid.UUID(given["ward"]))
            elif path == "/search":
                rows = await patients.fetch_patients_page(
                    session, claims.tenant_id, given["search"], None, int(given["first"]))
            elif path == "/record":
                return json_response(200, {"data": await self.record(session, claims,
                                                                      given["input"])})
            else:
                return json_response(404, {"errors": [{"message": "not found"}]})
        return json_response(200, {"data": [dict(r) for r in rows]})

    async def record(self, session: Session, claims: Claims, given: dict[str, Any]) -> Any:
        vitals = news2.Vitals(
            respiration_rate=given["respirationRate"], spo2=given["spo2"],
            on_oxygen=given["onOxygen"], systolic_bp=given["systolicBp"], pulse=given["pulse"],
            consciousness=news2.Consciousness(given["consciousness"]),
            temperature=Decimal(str(given["temperature"])))
        one, two, both = scored(vitals)
        new = observations.NewObservation(
            patient_id=uuid.UUID(given["patientId"]), recorded_at=datetime.now(UTC),
            recorded_by_user=claims.user_id, recorded_by_partner=None,
            respiration_rate=vitals.respiration_rate, spo2=vitals.spo2,
            on_oxygen=vitals.on_oxygen, systolic_bp=vitals.systolic_bp, pulse=vitals.pulse,
            consciousness=vitals.consciousness.value,
            temperature=news2.round_temperature(vitals.temperature), idempotency_key=None)
        row = await observations.insert_observation(session, claims.tenant_id, new, both)
        if row is None:
            return None
        score = two if row["spo2_scale"] == 2 else one
        if score.escalates:
            await observations.insert_escalation(session, claims.tenant_id, row["id"],
                                                 new.recorded_at)
        return {"id": row["id"], "recordedAt": row["recorded_at"], "total": score.total,
                "risk": score.risk.value, "redScore": score.red_score}


class FloorApp:
    """A bare ASGI app (no framework): the floor adds nothing but HTTP and JSON."""

    def __init__(self) -> None:
        self.floor = Floor(Settings.from_env().require_secret(),
                           os.environ["WARDGRAPH_DATABASE_URL"])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        status, payload = await self.floor.answer(
            scope["path"], headers.get(b"authorization", b"").decode(), b"".join(chunks))
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.floor.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.floor.pool is not None:
                    await self.floor.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def app() -> FloorApp:
    """The uvicorn factory (`--factory bench.floor:app`)."""
    return FloorApp()
