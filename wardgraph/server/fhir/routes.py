"""The FHIR interactions: each reads or writes through the resolvers GraphQL uses (who may ask,
what is audited, how a recording is scored and escalated), inside exchange.run's one claimed
transaction, and shapes the rows with resources.py."""

from __future__ import annotations

import asyncio
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from math import ceil
from typing import Any
from uuid import UUID

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from wardgraph import errors
from wardgraph.context import RequestContext
from wardgraph.db import observations as observation_statements
from wardgraph.resolvers import admissions, observations, patients
from wardgraph.server.fhir import bundles, codes, lookups, recordings, resources, search
from wardgraph.server.fhir.capability import capability_statement
from wardgraph.server.fhir.exchange import Answer, Handler, fhir_response, json_body, serve
from wardgraph.server.fhir.outcomes import NOT_SUPPORTED, outcome

PAGE_KIND = "fhir-observations"


def base_of(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def route(handler: Handler) -> Any:
    async def endpoint(request: Request) -> Response:
        return await serve(request, handler)
    return endpoint


# -- metadata ----------------------------------------------------------------------------------

def package_version() -> str:
    try:
        return version("wardgraph")
    except PackageNotFoundError:
        return "0"


async def metadata(request: Request) -> Response:
    """Public, as FHIR clients expect: it names what the server does, not any data."""
    return fhir_response(Answer(capability_statement(base_of(request), package_version())))


# -- Patient -----------------------------------------------------------------------------------

def resource_uuid(request: Request) -> UUID:
    """The id in the path; a malformed one is as absent as any other (the same 404)."""
    try:
        return UUID(request.path_params["id"])
    except ValueError:
        raise errors.not_found() from None


async def read_patient(context: RequestContext, request: Request) -> Answer:
    row = await patients.read_patient_of(context, resource_uuid(request))
    return Answer(resources.patient(row))


async def search_patients(context: RequestContext, request: Request) -> Answer:
    search.only(request.query_params, {"identifier"})
    claims = context.require(*patients.READERS, scope="patients:read")
    given = search.one(request.query_params, "identifier")
    if given is None:
        raise errors.invalid("identifier", "Search patients by identifier (the MRN)")
    system, bar, value = given.rpartition("|")
    rows: list[asyncpg.Record] = []
    if not bar or system in ("", codes.MRN_SYSTEM):
        rows = await lookups.fetch_patients_by_mrn(await context.db(), claims.tenant_id, value)
    found = [resources.patient(patients.audited(context, row)) for row in rows]
    return Answer(bundles.searchset(base_of(request), request.url, found))


# -- Encounter ---------------------------------------------------------------------------------

async def search_encounters(context: RequestContext, request: Request) -> Answer:
    search.only(request.query_params, {"patient", "subject"})
    patient_id = search.required_patient(request.query_params)
    rows = await admissions.patient_admissions(context, patient_id)
    # Gathered, so the DataLoader reads every admission's stays in one statement.
    stays = await asyncio.gather(*(admissions.admission_stays(context, row["id"])
                                   for row in rows))
    every_stay = [stay for some in stays for stay in some]
    beds = await context.loaders.bed.load_many(list({s["bed_id"] for s in every_stay}))
    wards = await context.loaders.ward.load_many(list({s["ward_id"] for s in every_stay}))
    labels = {b["id"]: b["label"] for b in beds if b is not None}
    names = {w["id"]: w["name"] for w in wards if w is not None}
    found = [resources.encounter(row, row_stays, labels.get, names.get)
             for row, row_stays in zip(rows, stays, strict=True)]
    return Answer(bundles.searchset(base_of(request), request.url, found))


# -- Observation -------------------------------------------------------------------------------

def observation_resource(scored: observations.ScoredObservation, kind: str) -> resources.Resource:
    return resources.observation(scored.row, scored.score,
                                 observations.stored_scale(scored.row), kind)


async def read_observation(context: RequestContext, request: Request) -> Answer:
    observations.require_reader(context)
    parsed = resources.parse_observation_id(request.path_params["id"])
    if parsed is None:
        raise errors.not_found()
    row_id, kind = parsed
    scored = await observations.observation_of(context, row_id)
    return Answer(observation_resource(scored, kind))


def kinds_for(category: str | None) -> tuple[str, ...]:
    if category == "vital-signs":
        return resources.VITAL_SIGNS
    if category == "survey":
        return (resources.NEWS2,)
    return resources.KINDS


def page_start(context: RequestContext, cursor: str | None,
               dates: search.DateRange) -> tuple[tuple[Any, UUID] | None, tuple[Any, UUID] | None,
                                                 int]:
    """(the keyset position to read after, the row a page resumes in, how many of that row's
    resources the previous page showed)."""
    if cursor is not None:
        try:
            key = context.cursors(PAGE_KIND).decode(cursor, 3)
        except errors.AppError:
            raise errors.invalid("_page", "Not a page of this search") from None
        assert key is not None
        try:
            at, row_id, skip = (datetime.fromisoformat(str(key[0])), UUID(str(key[1])),
                                int(key[2]))
        except ValueError:
            raise errors.invalid("_page", "Not a page of this search") from None
        # Keyset positions are exclusive: the position just after the row, in uuid order
        # (Postgres compares uuids byte by byte, as their integers compare).
        return (at, UUID(int=min(row_id.int + 1, 2**128 - 1))), (at, row_id), skip
    if dates.before is not None:
        edge = UUID(int=2**128 - 1) if dates.before_inclusive else UUID(int=0)
        return (dates.before, edge), None, 0
    return None, None, 0


async def search_observations(context: RequestContext, request: Request) -> Answer:
    params = request.query_params
    search.only(params, {"patient", "subject", "category", "date"})
    observations.require_reader(context)
    patient_id = search.required_patient(params)
    search.sort_newest_first(params)
    count = search.count(params, context.settings.limits.max_page_size)
    dates = search.date_range(params)
    kinds = kinds_for(search.category(params))
    position, resumed, skip = page_start(context, search.one(params, bundles.PAGE_PARAMETER),
                                         dates)
    # Enough rows for this page's resources and one more, which says whether a next page is.
    wanted = ceil((skip + count) / len(kinds)) + 1
    key = observation_statements.PageKey(patient_id, wanted, position)
    rows = await context.loaders.observation_pages.load(key.encode())
    items: list[tuple[asyncpg.Record, str, int]] = []
    for row in rows:
        if not dates.admits(row["recorded_at"]):
            break  # newest first: every later row is older still
        first = skip if resumed == (row["recorded_at"], row["id"]) else 0
        items += [(row, kind, index) for index, kind in enumerate(kinds) if index >= first]
    shown, rest = items[:count], items[count:]
    scored: dict[UUID, observations.ScoredObservation] = {}
    found = []
    for row, kind, _ in shown:
        if row["id"] not in scored:
            scored[row["id"]] = observations.observation(context, row)  # audited once per row
        found.append(observation_resource(scored[row["id"]], kind))
    next_page = None
    if rest:
        row, _, index = rest[0]
        next_page = context.cursors(PAGE_KIND).encode(
            [row["recorded_at"].isoformat(), str(row["id"]), index])
    return Answer(bundles.searchset(base_of(request), request.url, found, next_page))


# -- writes ------------------------------------------------------------------------------------

def created(context: RequestContext) -> bool:
    """Whether this request wrote the recording (a retry is answered with the first one)."""
    return any(event.operation == "CREATE" for event in context.audit)


async def create_observation(context: RequestContext, request: Request) -> Answer:
    """A vital-signs panel: recorded as recordObservation records it. The answer is the NEWS2
    total, which names (derivedFrom) each vital sign of the recording."""
    given = recordings.from_observation(await json_body(request))
    scored = await observations.record_observation(context, given)
    total = observation_resource(scored, resources.NEWS2)
    if not created(context):
        return Answer(total)
    return Answer(total, 201, {"Location": f"{base_of(request)}/Observation/{total['id']}"})


async def transaction(context: RequestContext, request: Request) -> Answer:
    given, kinds = recordings.from_transaction(await json_body(request))
    scored = await observations.record_observation(context, given)
    answered = [observation_resource(scored, kind) for kind in kinds]
    return Answer(bundles.transaction_response(base_of(request), answered, created(context)))


async def not_served(request: Request) -> Response:
    """Any other path or method under /fhir: an OperationOutcome, as every FHIR answer is."""
    return fhir_response(Answer(outcome(
        NOT_SUPPORTED, f"{request.method} {request.url.path} is not served here; "
        "GET /fhir/metadata lists what is"), 404))


def fhir_routes() -> list[BaseRoute]:
    """The routes to mount at the app's root: POST /fhir (the transaction) and /fhir/..."""
    return [
        Route("/fhir", route(transaction), methods=["POST"]),
        Mount("/fhir", routes=fhir_interactions()),
    ]


def fhir_interactions() -> list[BaseRoute]:
    return [
        Route("/metadata", metadata, methods=["GET"]),
        Route("/Patient", route(search_patients), methods=["GET"]),
        Route("/Patient/{id}", route(read_patient), methods=["GET"]),
        Route("/Encounter", route(search_encounters), methods=["GET"]),
        Route("/Observation", route(search_observations), methods=["GET"]),
        Route("/Observation", route(create_observation), methods=["POST"]),
        Route("/Observation/{id}", route(read_observation), methods=["GET"]),
        Route("/{anything:path}", not_served,
              methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
