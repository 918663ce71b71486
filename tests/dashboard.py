"""The ward dashboard: a ward's beds, each bed's current admission and patient, each patient's
latest observation with its NEWS2 breakdown. The document is shared by the statement-count
tests and the benchmark (bench/run_all.py), which sends the very same text."""

from __future__ import annotations

from dataclasses import dataclass

from tests.admitting import admit
from tests.factories import TenantKit
from tests.observing import RECORD, record_input, vitals
from wardgraph.auth.claims import Role

DASHBOARD = """
query WardDashboard($ward: ID!) {
  ward(id: $ward) {
    id name
    beds {
      id label
      currentAdmission {
        id number admittedAt
        patient {
          id mrn givenName familyName birthDate
          latestObservation {
            id recordedAt respirationRate spo2 onOxygen systolicBp pulse consciousness
            temperature
            news2 { total risk redScore monitoring response parameters { name value score } }
          }
        }
      }
    }
  }
}"""

# Name prefix search, as a ward clerk types it.
PATIENT_SEARCH = """
query PatientSearch($search: String!, $first: Int!) {
  patients(search: $search, first: $first) {
    edges { node { id mrn givenName familyName birthDate } }
  }
}"""

RECORD_OBSERVATION = """
mutation RecordObservation($input: RecordObservationInput!) {
  recordObservation(input: $input) {
    id recordedAt news2 { total risk redScore }
  }
}"""


@dataclass
class Ward:
    ward_id: str
    nurse: str  # a bearer token of a nurse of the ward's facility


async def occupied_ward(kit: TenantKit, beds: int) -> Ward:
    """A ward of `beds` beds of the kit's DHK facility, each holding an admitted patient with
    two observations, built through GraphQL."""
    facility = kit.facilities["DHK"]
    ward = await kit.ward(facility, name=f"Ward of {beds}")
    nurse = await kit.user(Role.NURSE, [facility])
    for bed in await kit.beds(ward, beds):
        patient = await kit.patient(facility)
        await admit(kit.api, kit.admin_token, patient, bed)
        for pulse in (72, 118):
            await kit.api.data(RECORD, record_input(patient, vitals(pulse=pulse)), nurse)
    return Ward(ward, nurse)
