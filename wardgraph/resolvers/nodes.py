"""`node(id:)`: any object by its global id, NOT_FOUND alike for every kind of miss."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from wardgraph import errors
from wardgraph.context import RequestContext
from wardgraph.resolvers import admissions, observations, organisation, patients
from wardgraph.schema import ids

NodeFetcher = Callable[[RequestContext, UUID], Awaitable[Any]]


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
}


async def _partner_token(context: RequestContext, db_id: UUID) -> Any:
    from wardgraph.resolvers.partner_tokens import partner_token_of

    return await partner_token_of(context, db_id)


FETCHERS["PartnerToken"] = _partner_token


def register(type_name: str, fetcher: NodeFetcher) -> None:
    """Other use cases add their node types here."""
    FETCHERS[type_name] = fetcher


async def node(context: RequestContext, global_id: str) -> Any:
    context.authenticated()
    parsed = ids.parse(global_id)
    if parsed is None or parsed[0] not in FETCHERS:
        raise errors.not_found()
    type_name, db_id = parsed
    return await FETCHERS[type_name](context, db_id)
