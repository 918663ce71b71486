"""The three operations, as each system is asked them: the ward dashboard, patient search and
recording an observation, spread over every tenant, facility and ward of the seeded data, each
sent by a nurse of the facility with the JWT wardgraph issues (PostGraphile and the floor verify
the same token).

wardgraph gets the documents of tests/dashboard.py. PostGraphile gets the equivalent query in
its own schema (its generated relations, the computed column app.observations_news2 for the
NEWS2 breakdown, and the functions of bench/peer_postgraphile.sql); the latest observation is
`observationsByTenantIdAndPatientId(first: 1, orderBy: [RECORDED_AT_DESC, ID_DESC])` and the
current admission `admissionsByTenantIdAndFacilityIdAndBedId(condition: {status: ACTIVE})`, a
list of at most one: the same rows in PostGraphile's shape. The floor gets plain JSON.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.dashboard import DASHBOARD, PATIENT_SEARCH, RECORD_OBSERVATION
from tests.seeding import FAMILY_NAMES, VITAL_SETS, Seeded
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import issue_user_token
from wardgraph.config import Settings

SYSTEMS = ("wardgraph", "postgraphile5", "postgraphile", "floor")
# The peers: PostGraphile 5 (the current release) and 4, in the same schema but for the names
# of primary keys (5 calls a table's `id` column `rowId`, `id` being its Node id) and of the
# mutation payload's row.
PEERS = ("postgraphile5", "postgraphile")
WORKLOADS = ("dashboard", "search", "record")
SEARCH_PAGE = 20
RECORD_BODIES = 4000

PEER_DASHBOARD = """
query WardDashboard($tenant: UUID!, $ward: UUID!) {
  wardByTenantIdAndId(tenantId: $tenant, id: $ward) {
    id name
    bedsByTenantIdAndFacilityIdAndWardId(orderBy: LABEL_ASC) {
      nodes {
        id label
        admissionsByTenantIdAndFacilityIdAndBedId(condition: {status: ACTIVE}) {
          nodes {
            id number admittedAt
            patientByTenantIdAndPatientId {
              id mrn givenName familyName birthDate
              observationsByTenantIdAndPatientId(first: 1, orderBy: [RECORDED_AT_DESC, ID_DESC]) {
                nodes {
                  id recordedAt respirationRate spo2 onOxygen systolicBp pulse consciousness
                  temperature news2
                }
              }
            }
          }
        }
      }
    }
  }
}"""

# PostGraphile 5's names: `rowId` for the id column in lookups, `result` for a function's row.
PEER5_DASHBOARD = PEER_DASHBOARD.replace(
    "wardByTenantIdAndId(tenantId: $tenant, id: $ward)",
    "wardByTenantIdAndRowId(tenantId: $tenant, rowId: $ward)").replace(
    "[RECORDED_AT_DESC, ID_DESC]", "[RECORDED_AT_DESC, ROW_ID_DESC]")

PEER_SEARCH = """
query PatientSearch($search: String!, $first: Int!) {
  searchPatients(search: $search, first: $first) {
    nodes { id mrn givenName familyName birthDate }
  }
}"""

PEER_RECORD = """
mutation RecordObservation($input: RecordObservationInput!) {
  recordObservation(input: $input) {
    observation { id recordedAt news2Total news2Risk news2RedScore }
  }
}"""

PEER5_RECORD = PEER_RECORD.replace("observation {", "result {")


@dataclass(frozen=True)
class Place:
    tenant: int
    facility: int


class Workloads:
    def __init__(self, seeded: Seeded, jwt_secret: str) -> None:
        self.seeded = seeded
        self.shape = seeded.shape
        self.settings = Settings(jwt_secret=jwt_secret)
        self.random = random.Random(20250101)
        self.places = [Place(t, f) for t in range(1, self.shape.tenants + 1)
                       for f in range(1, self.shape.facilities + 1)]
        self.tokens = {place: self._token(place) for place in self.places}

    def _token(self, place: Place) -> str:
        claims = Claims(tenant_id=self.seeded.tenant_id(place.tenant), role=Role.NURSE,
                        user_id=self.seeded.nurse_id(place.tenant, place.facility),
                        facility_ids=(self.seeded.facility_id(place.tenant, place.facility),))
        return issue_user_token(self.settings, claims, datetime.now(UTC), timedelta(days=1))

    def token(self, place: Place) -> str:
        return self.tokens[place]

    def active_patients(self) -> list[int]:
        """The patient numbers (within a facility) that lie in a bed now (tests/seeding.py)."""
        beds = self.shape.wards * self.shape.beds
        return [p for p in range(1, self.shape.patients + 1)
                if (p - 1) // beds == 0 and ((p - 1) % beds) % self.shape.beds
                < self.shape.occupied_beds()]

    # -- one request of each kind, per system ----------------------------------------------------

    def dashboard(self, system: str, place: Place, ward: int) -> dict[str, Any]:
        ward_id = self.seeded.ward_id(place.tenant, place.facility, ward)
        if system == "wardgraph":
            return graphql(self.token(place), DASHBOARD,
                           {"ward": ids.encode("Ward", ward_id)}, "WardDashboard")
        if system in PEERS:
            return graphql(self.token(place),
                           PEER5_DASHBOARD if system == "postgraphile5" else PEER_DASHBOARD,
                           {"tenant": str(self.seeded.tenant_id(place.tenant)),
                            "ward": str(ward_id)}, "WardDashboard")
        return plain(self.token(place), "/dashboard", {"ward": str(ward_id)})

    def search(self, system: str, place: Place, text: str) -> dict[str, Any]:
        variables = {"search": text, "first": SEARCH_PAGE}
        if system == "wardgraph":
            return graphql(self.token(place), PATIENT_SEARCH, variables, "PatientSearch")
        if system in PEERS:
            return graphql(self.token(place), PEER_SEARCH, variables, "PatientSearch")
        return plain(self.token(place), "/search", variables)

    def record(self, system: str, place: Place, patient: int, vital_set: int) -> dict[str, Any]:
        vitals = VITAL_SETS[vital_set]
        patient_id = self.seeded.patient_id(place.tenant, place.facility, patient)
        given: dict[str, Any] = {
            "respirationRate": vitals.respiration_rate, "spo2": vitals.spo2,
            "onOxygen": vitals.on_oxygen, "systolicBp": vitals.systolic_bp,
            "pulse": vitals.pulse, "consciousness": vitals.consciousness.value,
            "temperature": float(vitals.temperature)}
        if system == "wardgraph":
            given["patientId"] = ids.encode("Patient", patient_id)
            return graphql(self.token(place), RECORD_OBSERVATION, {"input": given},
                           "RecordObservation")
        given["patientId"] = str(patient_id)
        if system in PEERS:
            given["temperature"] = str(vitals.temperature)
            return graphql(self.token(place),
                           PEER5_RECORD if system == "postgraphile5" else PEER_RECORD,
                           {"input": given},
                           "RecordObservation")
        return plain(self.token(place), "/record", {"input": given})

    # -- the request lists the load generator cycles through -------------------------------------

    def requests(self, system: str, workload: str) -> list[dict[str, Any]]:
        """The same list, in the same order, for every system."""
        chooser = random.Random(f"{workload}-{self.shape.name}")
        if workload == "dashboard":
            cases = [(place, ward) for place in self.places
                     for ward in range(1, self.shape.wards + 1)]
            chooser.shuffle(cases)
            return [self.dashboard(system, place, ward) for place, ward in cases]
        if workload == "search":
            prefixes = sorted({name[:3].lower() for name in FAMILY_NAMES})
            cases_s = [(place, prefix) for place in self.places for prefix in prefixes]
            chooser.shuffle(cases_s)
            return [self.search(system, place, prefix) for place, prefix in cases_s]
        active = self.active_patients()
        return [self.record(system, chooser.choice(self.places), chooser.choice(active),
                            chooser.randrange(len(VITAL_SETS))) for _ in range(RECORD_BODIES)]


def graphql(token: str, query: str, variables: dict[str, Any],
            operation: str) -> dict[str, Any]:
    return {"path": "/graphql", "headers": {"Authorization": f"Bearer {token}"},
            "body": json.dumps({"query": query, "variables": variables,
                                "operationName": operation})}


def plain(token: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"path": path, "headers": {"Authorization": f"Bearer {token}"},
            "body": json.dumps(payload)}


# -- the answers agree ---------------------------------------------------------------------------

def dashboard_rows(system: str, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(bed label, patient MRN, latest observation's recordedAt instant, NEWS2 total) of each
    bed, from any system's answer: what the bench checks all three agree on."""
    rows: list[tuple[Any, ...]] = []
    if system == "floor":
        for r in body["data"]:
            recorded = r["recorded_at"] and datetime.fromisoformat(r["recorded_at"])
            rows.append((r["label"], r["mrn"], recorded,
                         _total(r["observation_id"], r["news2_total"])))
        return rows
    if system == "wardgraph":
        for bed in body["data"]["ward"]["beds"]:
            admission = bed["currentAdmission"]
            patient = admission and admission["patient"]
            latest = patient and patient["latestObservation"]
            rows.append((bed["label"], patient and patient["mrn"],
                         latest and datetime.fromisoformat(latest["recordedAt"]),
                         latest and latest["news2"]["total"]))
        return rows
    ward = body["data"].get("wardByTenantIdAndId") or body["data"]["wardByTenantIdAndRowId"]
    beds = ward["bedsByTenantIdAndFacilityIdAndWardId"]["nodes"]
    for bed in beds:
        admissions = bed["admissionsByTenantIdAndFacilityIdAndBedId"]["nodes"]
        patient = admissions[0]["patientByTenantIdAndPatientId"] if admissions else None
        observations = patient["observationsByTenantIdAndPatientId"]["nodes"] if patient else []
        latest = observations[0] if observations else None
        rows.append((bed["label"], patient and patient["mrn"],
                     latest and datetime.fromisoformat(latest["recordedAt"]),
                     latest and latest["news2"]["total"]))
    return rows


def _total(observation_id: Any, total: Any) -> Any:
    return total if observation_id else None
