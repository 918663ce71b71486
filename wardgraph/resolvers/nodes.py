"""`node(id:)`: any object by its global id, NOT_FOUND alike for every kind of miss."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from wardgraph import errors, ids
from wardgraph.context import RequestContext
from wardgraph.resolvers import (
    admissions,
    audit,
    observations,
    organisation,
    partner_tokens,
    patients,
)

NodeFetcher = Callable[[RequestContext, UUID], Awaitable[Any]]


@dataclass(frozen=True)
class Found:
    """What an id named: its type's name and what that type's resolver returns."""

    type_name: str
    value: Any


async def _facility(context: RequestContext, db_id: UUID) -> Any:
    context.require(*organisation.STAFF)
    return await organisation.facility_of(context, db_id)


async def _ward(context: RequestContext, db_id: UUID) -> Any:
    context.require(*organisation.STAFF)
    return await organisation.ward_of(context, db_id)


async def _bed(context: RequestContext, db_id: UUID) -> Any:
    context.require(*organisation.STAFF)
    return await organisation.bed_of(context, db_id)


async def _patient(context: RequestContext, db_id: UUID) -> Any:
    context.require(*patients.READERS, scope="patients:read")
    return await patients.patient_of(context, db_id)


FETCHERS: dict[str, NodeFetcher] = {
    "Facility": _facility,
    "Ward": _ward,
    "Bed": _bed,
    "Patient": _patient,
    "Admission": admissions.admission_of,
    "Observation": observations.observation_of,
    "PartnerToken": partner_tokens.partner_token_of,
    "AuditEvent": audit.audit_event_of,
}


async def node(context: RequestContext, global_id: str) -> Found:
    context.authenticated()
    parsed = ids.parse(global_id)
    if parsed is None or parsed[0] not in FETCHERS:
        raise errors.not_found()
    type_name, db_id = parsed
    return Found(type_name, await FETCHERS[type_name](context, db_id))
