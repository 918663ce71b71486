"""Planned queries against graphql-core's executor on generated documents: for every role,
hypothesis writes queries over the clinical part of the schema (fields picked at random,
aliases, inline and named fragments, `__typename`, variables that are valid, null, of the wrong
type or naming nothing, so answers with nulls and errors) and each one's data, errors and audit
events must be the same whichever way it is answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dashboard import Ward, occupied_ward
from tests.factories import TenantKit
from tests.in_process import answer
from wardgraph import ids
from wardgraph.auth.claims import Role

# The object types reachable from the roots below: each field, and the type of its selection
# (None for a scalar or an enum).
TREE: dict[str, dict[str, str | None]] = {
    "Ward": {"id": None, "name": None, "dailyRate": "Money", "facility": "Facility",
             "beds": "Bed"},
    "Bed": {"id": None, "label": None, "occupied": None, "ward": "Ward",
            "currentAdmission": "Admission"},
    "Admission": {"id": None, "number": None, "admittedAt": None, "dischargedAt": None,
                  "status": None, "patient": "Patient", "bed": "Bed", "facility": "Facility"},
    "Patient": {"id": None, "mrn": None, "givenName": None, "familyName": None,
                "birthDate": None, "spo2Scale": None, "currentAdmission": "Admission",
                "latestObservation": "Observation", "facility": "Facility"},
    "Observation": {"id": None, "respirationRate": None, "spo2": None, "onOxygen": None,
                    "systolicBp": None, "pulse": None, "consciousness": None,
                    "temperature": None, "recordedAt": None, "spo2Scale": None,
                    "news2": "News2Score", "ward": "Ward"},
    "News2Score": {"total": None, "risk": None, "redScore": None, "monitoring": None,
                   "parameters": "News2Parameter"},
    "News2Parameter": {"name": None, "value": None, "score": None},
    "Facility": {"id": None, "code": None, "name": None, "timezone": None, "currency": None},
    "Money": {"amount": None, "currency": None},
    "Viewer": {"kind": None, "role": None, "scopes": None, "tenant": "Tenant",
               "facilities": "Facility"},
    "Tenant": {"id": None, "slug": None, "name": None},
    "PatientConnection": {"edges": "PatientEdge", "pageInfo": "PageInfo"},
    "PatientEdge": {"cursor": None, "node": "Patient"},
    "PageInfo": {"hasNextPage": None, "endCursor": None},
}

# Root fields: (field with its arguments, the type it returns, the variables it uses).
ROOTS = [
    ("ward(id: $ward)", "Ward", ("ward",)),
    ("patient(id: $patient)", "Patient", ("patient",)),
    ("patients(first: $first, search: $search)", "PatientConnection", ("first", "search")),
    ("viewer", "Viewer", ()),
]
VARIABLE_TYPES = {"ward": "ID!", "patient": "ID!", "first": "Int", "search": "String"}
ALIASES = ("a", "b", "c", "d")
MAX_DEPTH = 4


@dataclass
class Document:
    fragments: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def text(self, body: str) -> str:
        declared = ", ".join(f"${name}: {VARIABLE_TYPES[name]}" for name in sorted(self.used))
        head = f"query Generated({declared})" if declared else "query Generated"
        return "\n".join([f"{head} {{ {body} }}", *self.fragments.values()])


@st.composite
def selection(draw: st.DrawFn, document: Document, type_name: str, depth: int) -> str:
    """A selection set on `type_name`: fields, some aliased, some inside fragments."""
    fields = TREE[type_name]
    names = [n for n in fields if depth < MAX_DEPTH or fields[n] is None]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    parts = []
    for name in chosen:
        alias = draw(st.sampled_from((None, *ALIASES)))
        key = f"{alias}{name.capitalize()}: {name}" if alias else name
        child = fields[name]
        part = key if child is None else (
            f"{key} {{ {draw(selection(document, child, depth + 1))} }}")
        parts.append(part)
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(("__typename", "kind: __typename"))))
    wrap = draw(st.sampled_from(("none", "inline", "named")))
    if wrap == "inline":
        return f"... on {type_name} {{ {' '.join(parts)} }}"
    if wrap == "named":
        name = f"F{len(document.fragments)}{type_name}"
        document.fragments[name] = f"fragment {name} on {type_name} {{ {' '.join(parts)} }}"
        return f"...{name}"
    return " ".join(parts)


@st.composite
def query(draw: st.DrawFn) -> str:
    document = Document()
    roots = draw(st.lists(st.sampled_from(ROOTS), min_size=1, max_size=2, unique=True))
    body = []
    for n, (root, type_name, variables) in enumerate(roots):
        document.used.update(variables)
        alias = f"r{n}: " if draw(st.booleans()) else ""
        body.append(f"{alias}{root} {{ {draw(selection(document, type_name, 1))} }}")
    return document.text(" ".join(body))


@dataclass(frozen=True)
class Place:
    ward: str
    patient: str


CALLERS = ["ADMIN", "CLINICIAN", "NURSE", "BILLING", "AUDITOR", "PARTNER"]


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await occupied_ward(tenant, 2)


async def token_of(tenant: TenantKit, caller: str) -> str:
    facility = [tenant.facilities["DHK"]]
    if caller == "PARTNER":
        return await tenant.partner(["patients:read", "observations:read"], facility)
    return await tenant.user(Role(caller), facility)


@dataclass(frozen=True)
class Caller:
    token: str
    place: Place


@pytest.fixture
async def caller(request: pytest.FixtureRequest, tenant: TenantKit, ward: Ward) -> Caller:
    facility = [tenant.facilities["DHK"]]
    role: str = request.param
    if role == "PARTNER":
        token = await tenant.partner(["patients:read", "observations:read"], facility)
    else:
        token = await tenant.user(Role(role), facility)
    return Caller(token, Place(ward.ward_id, await tenant.patient(tenant.facilities["DHK"])))


def variables_for(place: Place) -> st.SearchStrategy[dict[str, Any]]:
    """Values for every variable a document may use (graphql-core ignores the others): valid,
    unknown, malformed, of another type, null."""
    unknown_ward = ids.encode("Ward", uuid.uuid5(uuid.NAMESPACE_URL, place.ward))
    return st.fixed_dictionaries({
        "ward": st.sampled_from((place.ward, place.ward, unknown_ward, "not-an-id",
                                 place.patient, None)),
        "patient": st.sampled_from((place.patient, place.patient, place.ward, None)),
        "first": st.sampled_from((None, 0, 1, 3, -1)),
        "search": st.sampled_from((None, "Lov", "", "zz")),
    })


@pytest.mark.parametrize("caller", CALLERS, indirect=True)
@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(document=query(), data=st.data())
async def test_generated_queries_answer_alike_planned_or_not(
    pool: asyncpg.Pool, caller: Caller, document: str, data: st.DataObject
) -> None:
    given_variables = data.draw(variables_for(caller.place))
    general = await answer(pool, False, caller.token, document, given_variables)
    planned = await answer(pool, True, caller.token, document, given_variables)
    assert planned.data == general.data, document
    assert planned.errors == general.errors, document
    assert planned.audit == general.audit, document
    assert general.planned is False
