"""Admitting, transferring and discharging through GraphQL: the documents and a few helpers
shared by the admission tests, the race tests and the admission benchmark."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from tests.factories import TenantKit
from tests.harness import Api

ADMISSION_FIELDS = "id number status admittedAt dischargedAt bed { id } patient { id }"

ADMIT = f"""
mutation($input: AdmitPatientInput!) {{ admitPatient(input: $input) {{ {ADMISSION_FIELDS} }} }}
"""
TRANSFER = f"""
mutation($input: TransferPatientInput!) {{
  transferPatient(input: $input) {{ {ADMISSION_FIELDS} }}
}}"""
DISCHARGE = f"""
mutation($input: DischargePatientInput!) {{
  dischargePatient(input: $input) {{ {ADMISSION_FIELDS} }}
}}"""


def iso(moment: datetime) -> str:
    return moment.isoformat()


def admit_input(patient: str, bed: str, at: datetime | None = None) -> dict[str, Any]:
    given = {"patientId": patient, "bedId": bed}
    if at is not None:
        given["admittedAt"] = iso(at)
    return {"input": given}


def transfer_input(admission: str, bed: str, at: datetime | None = None) -> dict[str, Any]:
    given = {"admissionId": admission, "toBedId": bed}
    if at is not None:
        given["at"] = iso(at)
    return {"input": given}


def discharge_input(admission: str, at: datetime | None = None) -> dict[str, Any]:
    given = {"admissionId": admission}
    if at is not None:
        given["dischargedAt"] = iso(at)
    return {"input": given}


async def admit(api: Api, token: str, patient: str, bed: str,
                at: datetime | None = None) -> dict[str, Any]:
    """The admission of a request that must succeed."""
    data = await api.data(ADMIT, admit_input(patient, bed, at), token)
    admission: dict[str, Any] = data["admitPatient"]
    return admission


# Set-up runs one request at a time: a burst would open many keep-alive connections that all
# fall idle together, and one reused just as the server closes it fails the request.

async def patients(kit: TenantKit, facility_id: str, count: int) -> list[str]:
    """`count` new patients registered at the facility."""
    return [await kit.patient(facility_id) for _ in range(count)]


async def beds(kit: TenantKit, ward_id: str, count: int) -> list[str]:
    """`count` new beds of the ward, labelled B-001 onwards."""
    return [await kit.bed(ward_id, f"B-{n:03d}") for n in range(1, count + 1)]


async def released_together(
    api: Api, requests: Sequence[tuple[str, dict[str, Any], str]]
) -> list[httpx.Response]:
    """Each (query, variables, token) sent on its own new HTTP connection, all released at once
    by a barrier, so the server runs them concurrently on separate database connections. (New
    connections, not the shared client's idle ones, which the server may be closing.)"""
    barrier = asyncio.Barrier(len(requests))
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as client:

        async def send(query: str, variables: dict[str, Any], token: str) -> httpx.Response:
            await barrier.wait()
            return await client.post("/graphql", json={"query": query, "variables": variables},
                                     headers={"Authorization": f"Bearer {token}"})

        return list(await asyncio.gather(*(send(*request) for request in requests)))


def outcomes(responses: Sequence[httpx.Response]) -> Counter[str]:
    """How the responses ended: "OK", an error code, or "HTTP <status>" for a non-200 answer."""
    counted: Counter[str] = Counter()
    for response in responses:
        if response.status_code != 200:
            counted[f"HTTP {response.status_code}"] += 1
            continue
        body = response.json()
        errors = body.get("errors")
        counted[errors[0]["extensions"]["code"] if errors else "OK"] += 1
    return counted
