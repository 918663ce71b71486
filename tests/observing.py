"""Recording and reading observations through GraphQL, and SQL as the roles see it: the
documents and helpers shared by the observation tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api
from wardgraph import ids
from wardgraph.auth.claims import Role
from wardgraph.news2 import Consciousness, Vitals

NEWS2_FIELDS = "total risk redScore parameters { name value score } monitoring response"
OBSERVATION_FIELDS = f"""
id respirationRate spo2 onOxygen systolicBp pulse consciousness temperature recordedAt
spo2Scale news2 {{ {NEWS2_FIELDS} }}"""

RECORD = f"""
mutation($input: RecordObservationInput!) {{
  recordObservation(input: $input) {{ {OBSERVATION_FIELDS} }}
}}"""

CALCULATE = f"""
query($vitals: VitalsInput!, $scale: Spo2Scale) {{
  news2(vitals: $vitals, spo2Scale: $scale) {{ {NEWS2_FIELDS} }}
}}"""

PATIENT_OBSERVATIONS = f"""
query($id: ID!, $first: Int, $after: String) {{
  patient(id: $id) {{
    id
    observations(first: $first, after: $after) {{
      edges {{ cursor node {{ {OBSERVATION_FIELDS} }} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}"""

SET_SPO2_SCALE = """
mutation($input: SetSpo2ScaleInput!) {
  setSpo2Scale(input: $input) { id spo2Scale spo2ScaleSetAt spo2ScaleSetBy { id } }
}"""

# Scores 0 on every parameter of chart 1.
NORMAL: dict[str, Any] = {
    "respirationRate": 16, "spo2": 97, "onOxygen": False, "systolicBp": 120, "pulse": 70,
    "consciousness": "ALERT", "temperature": 37.0,
}


def vitals(**changes: Any) -> dict[str, Any]:
    """NORMAL with some values changed (GraphQL field names)."""
    unknown = set(changes) - set(NORMAL)
    assert not unknown, unknown
    return {**NORMAL, **changes}


def as_news2(given: dict[str, Any]) -> Vitals:
    """GraphQL vitals as the scoring module takes them."""
    return Vitals(
        respiration_rate=given["respirationRate"], spo2=given["spo2"],
        on_oxygen=given["onOxygen"], systolic_bp=given["systolicBp"], pulse=given["pulse"],
        consciousness=Consciousness(given["consciousness"]), temperature=given["temperature"])


def record_input(patient: str, given: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"input": {"patientId": patient, **given, **extra}}


async def record(api: Api, token: str, patient: str, given: dict[str, Any] | None = None,
                 **extra: Any) -> dict[str, Any]:
    """The observation of a recording that must succeed."""
    data = await api.data(RECORD, record_input(patient, given or NORMAL, **extra), token)
    observation: dict[str, Any] = data["recordObservation"]
    return observation


async def error_of(api: Api, query: str, variables: dict[str, Any],
                   token: str) -> dict[str, Any]:
    """The one error of a request that must fail as a whole."""
    body = await api.gql(query, variables, token)
    assert body.get("data") is None, body  # refused before execution: no data at all
    assert len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


def uuid_of(global_id: str) -> uuid.UUID:
    parsed = ids.parse(global_id)
    assert parsed is not None
    return parsed[1]


async def observation_rows(admin_url: str, tenant_id: uuid.UUID) -> list[asyncpg.Record]:
    """The tenant's observations as stored, oldest first."""
    return await admin_fetch(admin_url, """
        select o.*, o.consciousness::text as consciousness_text, o.news2_risk::text as risk
        from app.observations o where o.tenant_id = $1
        order by o.created_at, o.recorded_at""", tenant_id)


async def escalation_rows(admin_url: str, tenant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await admin_fetch(admin_url, """
        select e.*, e.news2_risk::text as risk from app.escalations e
        where e.tenant_id = $1""", tenant_id)


async def released_together(
    api: Api, requests: Sequence[tuple[str, dict[str, Any], str]]
) -> list[httpx.Response]:
    """Each (query, variables, token) sent at once, released by a barrier, so the server runs
    them concurrently on separate database connections."""
    barrier = asyncio.Barrier(len(requests))

    async def send(query: str, variables: dict[str, Any], token: str) -> httpx.Response:
        await barrier.wait()
        return await api.post(query, variables, token)

    return list(await asyncio.gather(*(send(*request) for request in requests)))


@dataclass
class Ward:
    kit: TenantKit
    facility: str
    ward: str
    beds: list[str]
    nurse: str
    clinician: str
    patient: str


async def make_ward(tenant: TenantKit) -> Ward:
    """A ward of DHK with two beds, a nurse and a clinician who work there, and a patient
    registered at DHK (not admitted)."""
    facility = tenant.facilities["DHK"]
    ward_id = await tenant.ward(facility)
    beds = [await tenant.bed(ward_id, "A-1"), await tenant.bed(ward_id, "A-2")]
    return Ward(tenant, facility, ward_id, beds, await tenant.user(Role.NURSE, [facility]),
                await tenant.user(Role.CLINICIAN, [facility]), await tenant.patient(facility))


async def admit(api: Api, kit: TenantKit, patient: str, bed: str, at: datetime) -> str:
    """Admit through GraphQL as the tenant's admin; the admission's global id."""
    data = await api.data("""
        mutation($input: AdmitPatientInput!) { admitPatient(input: $input) { id } }""",
        {"input": {"patientId": patient, "bedId": bed, "admittedAt": at.isoformat()}},
        kit.admin_token)
    return str(data["admitPatient"]["id"])
