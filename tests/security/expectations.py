"""The expectation table of the adversarial matrix: for every Query and Mutation field, who may
use it at all, and what each caller gets for each kind of id in each id argument.

The rules every row follows (and which `expected` applies):

- no token: UNAUTHENTICATED, except where a row is open to ANONYMOUS (login);
- a caller not among the readers: FORBIDDEN, whatever the id (the operation is closed to it);
- an id of the caller's own facility: DATA;
- an id of another facility of the tenant: DATA for the callers listed as `wide` (the tenant's
  admin, and the auditor for the tenant-wide trail), otherwise the probe's miss;
- another tenant's id, a random id of the right type and an id of the wrong type: the miss,
  NOT_FOUND for an object (byte for byte the same body as for the random id) or EMPTY for a
  filter, which matches nothing.

`overrides` lists the few cells where a caller's answer differs, each with its reason. A field
missing here, or an id argument without a probe, fails test_matrix.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.security.world import (
    ANONYMOUS,
    LOGIN_PASSWORD,
    NORMAL_VITALS,
    OTHER_FACILITY,
    OWN,
    PARTNER_CALLERS,
    USER_CALLERS,
    Site,
    World,
)

DATA, EMPTY, NOT_FOUND, FORBIDDEN = "DATA", "EMPTY", "NOT_FOUND", "FORBIDDEN"
INVALID, UNAUTHENTICATED = "VALIDATION_FAILED", "UNAUTHENTICATED"
# Outcomes that say nothing about any row: their bodies must equal the random id's.
REFUSALS = frozenset({EMPTY, NOT_FOUND, FORBIDDEN, UNAUTHENTICATED})

Builder = Callable[[World, Site], Awaitable[dict[str, Any]]]
Fresh = Callable[[World, Site], Awaitable[str]]


def partner(scope: str) -> str:
    return f"partner:{scope}"


def callers(*names: str) -> frozenset[str]:
    return frozenset(names)


EVERYONE = callers(*USER_CALLERS, *PARTNER_CALLERS)
ADMIN_ONLY = callers("ADMIN")
AUDITOR_ONLY = callers("AUDITOR")
WRITERS = callers("ADMIN", "CLINICIAN", "NURSE")
PATIENT_READERS = callers("ADMIN", "CLINICIAN", "NURSE", "BILLING", partner("patients:read"))
ADMISSION_READERS = callers("ADMIN", "CLINICIAN", "NURSE", "BILLING",
                            partner("admissions:read"))
OBSERVATION_READERS = callers("ADMIN", "CLINICIAN", "NURSE", partner("observations:read"))
RECORDERS = callers("CLINICIAN", "NURSE", partner("observations:write"))
REPORT_READERS = callers("ADMIN", "BILLING", "CLINICIAN", partner("reports:read"))
ACCRUERS = callers("ADMIN", "BILLING")


@dataclass(frozen=True)
class Probe:
    """One id argument (at `path`) given an id of `type_name` of each kind."""

    path: str
    type_name: str
    readers: frozenset[str] | None = None  # the row's readers when None
    wide: frozenset[str] = ADMIN_ONLY
    miss: str = NOT_FOUND
    fresh: Fresh | None = None  # a new object of the site, for mutations that use it up
    variables: Builder | None = None  # the other arguments; the row's when None
    overrides: Mapping[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    readers: frozenset[str]
    variables: Builder
    probes: tuple[Probe, ...] = ()
    plain: bool = False  # also asked with no id (always, for a row without probes)
    anonymous: bool = False  # open to a caller without a token


def expected(row: Row, probe: Probe | None, caller: str, kind: str | None) -> str:
    readers = probe.readers if probe is not None and probe.readers is not None else row.readers
    if caller == ANONYMOUS and not row.anonymous:
        return UNAUTHENTICATED
    if caller != ANONYMOUS and caller not in readers:
        return FORBIDDEN
    if probe is None or kind is None:
        return DATA
    if (caller, kind) in probe.overrides:
        return probe.overrides[(caller, kind)]
    if kind == OWN or (kind == OTHER_FACILITY and caller in probe.wide):
        return DATA
    return probe.miss


# -- the other arguments of each operation ------------------------------------------------------

def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4).upper()}"


async def nothing(world: World, site: Site) -> dict[str, Any]:
    return {}


async def empty_input(world: World, site: Site) -> dict[str, Any]:
    return {"input": {}}


async def first_page(world: World, site: Site) -> dict[str, Any]:
    return {"first": 5}


async def vitals(world: World, site: Site) -> dict[str, Any]:
    return {"vitals": NORMAL_VITALS}


async def login(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"tenant": world.home.slug, "email": world.login_email,
                      "password": LOGIN_PASSWORD}}


async def new_facility(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"code": unique("M"), "name": "Matrix", "timezone": "Asia/Dhaka"}}


async def new_ward(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"name": unique("Ward "), "dailyRate": "100.00"}}


async def new_bed(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"label": unique("L-")}}


async def new_user(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"email": unique("m-").lower() + "@matrix.example", "role": "NURSE"}}


async def new_patient(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"mrn": unique("MX-"), "givenName": "New", "familyName": "Patient",
                      "birthDate": "1980-02-02"}}


async def new_partner_token(world: World, site: Site) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(days=30)
    return {"input": {"name": "matrix", "scopes": ["patients:read"],
                      "expiresAt": expires.isoformat()}}


async def into_a_free_bed(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"bedId": await world.supplies.bed(world.sites[OWN])}}


async def a_free_patient(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"patientId": await world.supplies.patient(world.sites[OWN])}}


async def to_a_free_bed_beside_it(world: World, site: Site) -> dict[str, Any]:
    # A transfer stays in the admission's facility: the bed is of the tested id's site.
    return {"input": {"toBedId": await world.supplies.bed(site)}}


async def an_active_admission(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"admissionId": await world.supplies.admission(world.sites[OWN])}}


async def normal_vitals(world: World, site: Site) -> dict[str, Any]:
    return {"input": dict(NORMAL_VITALS)}


async def scale_1(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"scale": "SCALE_1"}}


def yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


async def last_week(world: World, site: Site) -> dict[str, Any]:
    return {"from": (datetime.now(UTC).date() - timedelta(days=7)).isoformat(),
            "to": yesterday()}


async def input_through_yesterday(world: World, site: Site) -> dict[str, Any]:
    return {"input": {"through": yesterday()}}


async def fresh_patient(world: World, site: Site) -> str:
    return await world.supplies.patient(site)


async def fresh_bed(world: World, site: Site) -> str:
    return await world.supplies.bed(site)


async def fresh_admission(world: World, site: Site) -> str:
    return await world.supplies.admission(site)


# -- the table ----------------------------------------------------------------------------------

# node(id:) takes every type that implements Node; each is probed with its own readers.
NODE_PROBES = (
    Probe("id", "Facility", readers=EVERYONE),
    Probe("id", "Ward", readers=EVERYONE),
    Probe("id", "Bed", readers=EVERYONE),
    Probe("id", "Patient", readers=PATIENT_READERS),
    Probe("id", "Admission", readers=ADMISSION_READERS),
    Probe("id", "Observation", readers=OBSERVATION_READERS),
    # A partner sees its own token only (the viewer's partnerToken); this one is another's.
    Probe("id", "PartnerToken", readers=ADMIN_ONLY | callers(*PARTNER_CALLERS),
          overrides={(caller, "own"): NOT_FOUND for caller in PARTNER_CALLERS}),
    Probe("id", "AuditEvent", readers=AUDITOR_ONLY, wide=AUDITOR_ONLY),
    # Users and tenants are not fetched by node(id:): every id of them is NOT_FOUND.
    Probe("id", "User", readers=EVERYONE, overrides={
        (caller, "own"): NOT_FOUND for caller in EVERYONE}, wide=frozenset()),
    Probe("id", "Tenant", readers=EVERYONE, overrides={
        (caller, "own"): NOT_FOUND for caller in EVERYONE}, wide=frozenset()),
)

TABLE: dict[str, Row] = {
    "Query.node": Row(EVERYONE, nothing, NODE_PROBES),
    "Query.viewer": Row(EVERYONE, nothing),
    "Query.facilities": Row(EVERYONE, first_page),
    "Query.facility": Row(EVERYONE, nothing, (Probe("id", "Facility"),)),
    "Query.ward": Row(EVERYONE, nothing, (Probe("id", "Ward"),)),
    "Query.patients": Row(PATIENT_READERS, first_page),
    "Query.patient": Row(PATIENT_READERS, nothing, (Probe("id", "Patient"),)),
    "Query.admission": Row(ADMISSION_READERS, nothing, (Probe("id", "Admission"),)),
    "Query.news2": Row(EVERYONE, vitals),
    "Query.dailyReport": Row(REPORT_READERS, last_week, (Probe("facilityId", "Facility"),)),
    # The trail is the tenant's, whatever facility an event's patient or actor belongs to; a
    # filter naming nothing of this tenant answers an empty page, as a random id does.
    "Query.auditEvents": Row(AUDITOR_ONLY, first_page, (
        Probe("patientId", "Patient", wide=AUDITOR_ONLY, miss=EMPTY),
        Probe("actorId", "User", wide=AUDITOR_ONLY, miss=EMPTY),
        Probe("actorId", "PartnerToken", wide=AUDITOR_ONLY, miss=EMPTY),
    ), plain=True),
    "Mutation.login": Row(EVERYONE | {ANONYMOUS}, login, anonymous=True),
    "Mutation.createFacility": Row(ADMIN_ONLY, new_facility),
    # Idempotent: a second accrual of the same dates charges nothing more.
    "Mutation.accrueBedDays": Row(ACCRUERS, input_through_yesterday, (
        Probe("input.facilityId", "Facility"),
    )),
    "Mutation.createWard": Row(ADMIN_ONLY, new_ward, (Probe("input.facilityId", "Facility"),)),
    "Mutation.createBed": Row(ADMIN_ONLY, new_bed, (Probe("input.wardId", "Ward"),)),
    "Mutation.createUser": Row(ADMIN_ONLY, new_user,
                               (Probe("input.facilityIds[]", "Facility"),)),
    "Mutation.createPatient": Row(WRITERS, new_patient, (Probe("input.facilityId", "Facility"),)),
    "Mutation.createPartnerToken": Row(ADMIN_ONLY, new_partner_token,
                                       (Probe("input.facilityIds[]", "Facility"),)),
    # Revoking twice keeps the first revocation, so the victims may be revoked by every cell.
    "Mutation.revokePartnerToken": Row(ADMIN_ONLY, empty_input, (
        Probe("input.id", "PartnerToken"),
    )),
    "Mutation.admitPatient": Row(WRITERS, nothing, (
        Probe("input.patientId", "Patient", fresh=fresh_patient, variables=into_a_free_bed),
        Probe("input.bedId", "Bed", fresh=fresh_bed, variables=a_free_patient),
    )),
    "Mutation.transferPatient": Row(WRITERS, nothing, (
        Probe("input.admissionId", "Admission", fresh=fresh_admission,
              variables=to_a_free_bed_beside_it),
        # The admin sees the other facility's bed, and is told a transfer stays in one
        # facility: a rule of the operation, known to the caller, about a bed it may see.
        Probe("input.toBedId", "Bed", fresh=fresh_bed, variables=an_active_admission,
              overrides={("ADMIN", OTHER_FACILITY): INVALID}),
    )),
    "Mutation.dischargePatient": Row(WRITERS, empty_input, (
        Probe("input.admissionId", "Admission", fresh=fresh_admission),
    )),
    # Undoing a discharge of an admission still active answers it as it is, so a fresh active
    # admission serves every cell.
    "Mutation.undoDischarge": Row(ADMIN_ONLY, empty_input, (
        Probe("input.admissionId", "Admission", fresh=fresh_admission),
    )),
    # Recording is for the staff of the patient's facility (and partners with the scope), not
    # for the tenant's admin: no caller records vital signs elsewhere. A partner records only
    # for a patient it can see, so observations:write alone finds none: it is used together
    # with patients:read (tests/test_observations.py records with both).
    "Mutation.recordObservation": Row(RECORDERS, normal_vitals, (
        Probe("input.patientId", "Patient", wide=frozenset(),
              overrides={(partner("observations:write"), OWN): NOT_FOUND}),
    )),
    "Mutation.setSpo2Scale": Row(callers("CLINICIAN"), scale_1, (
        Probe("input.patientId", "Patient", wide=frozenset()),
    )),
}

# Subscriptions run over WebSocket; their role, scope and row checks are tested there.
COVERED_ELSEWHERE: dict[str, str] = {
    "Subscription.news2Alerts": "tests/test_subscriptions.py",
}
