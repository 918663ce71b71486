"""Per-request DataLoaders: a list of N objects costs one statement per relation, not N.

Created per request (in the request context), never shared: a loader's cache holds rows one
tenant may see, and must not outlive the request that read them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
from strawberry.dataloader import DataLoader

from wardgraph.auth.claims import Role
from wardgraph.db import (
    admissions,
    observations,
    organisation,
    partner_tokens,
    patients,
    ward_occupancy,
)
from wardgraph.db.errors import to_app_error

if TYPE_CHECKING:
    from wardgraph.db.session import Session

Fetch = Callable[["Session", UUID, list[Any]], Awaitable[list[asyncpg.Record]]]
One = DataLoader[Any, asyncpg.Record | None]
Many = DataLoader[Any, list[asyncpg.Record]]


def index_rows(rows: Sequence[asyncpg.Record], keys: Sequence[Hashable],
               column: str = "id") -> list[asyncpg.Record | None]:
    found = {row[column]: row for row in rows}
    return [found.get(key) for key in keys]


def group_rows(rows: Sequence[asyncpg.Record], keys: Sequence[Hashable],
               column: str) -> list[list[asyncpg.Record]]:
    groups: dict[Hashable, list[asyncpg.Record]] = {key: [] for key in keys}
    for row in rows:
        groups.setdefault(row[column], []).append(row)
    return [groups[key] for key in keys]


class Loaders:
    """Each loader is made on first use: a request reads a few of these relations, not all."""

    def __init__(self, session: Callable[[], Awaitable[Session]], tenant_id: UUID,
                 role: Role) -> None:
        self._session = session
        self._tenant_id = tenant_id
        self._role = role

    @cached_property
    def facility(self) -> One:
        return self.one(organisation.fetch_facilities_by_id)

    @cached_property
    def ward(self) -> One:
        return self.one(self._fetch_wards)

    @cached_property
    def bed(self) -> One:
        return self.one(organisation.fetch_beds_by_id)

    @cached_property
    def user(self) -> One:
        return self.one(organisation.fetch_users_by_id)

    @cached_property
    def patient(self) -> One:
        return self.one(patients.fetch_patients_by_id)

    # Clinical columns: a role without the column grant is refused by the database, inside a
    # savepoint so the refusal does not abort the rest of the request.
    @cached_property
    def spo2_scale(self) -> One:
        return self.one(patients.fetch_spo2_scales, guarded=True)

    @cached_property
    def wards_by_facility(self) -> Many:
        return self.many(organisation.fetch_wards_by_facility, "facility_id")

    @cached_property
    def beds_by_ward(self) -> Many:
        return self.many(self._fetch_beds_by_ward, "ward_id")

    @cached_property
    def user_facilities(self) -> Many:
        return self.many(organisation.fetch_user_facility_ids, "user_id")

    @cached_property
    def partner_token(self) -> One:
        return self.one(partner_tokens.fetch_partner_tokens_by_id)

    @cached_property
    def partner_token_facilities(self) -> Many:
        return self.many(partner_tokens.fetch_partner_token_facility_ids, "token_id")

    @cached_property
    def admission(self) -> One:
        return self.one(admissions.fetch_admissions_by_id)

    @cached_property
    def active_admission_by_bed(self) -> One:
        return self.one(admissions.fetch_active_admissions_by_bed, "bed_id")

    @cached_property
    def active_admission_by_patient(self) -> One:
        return self.one(admissions.fetch_active_admissions_by_patient, "patient_id")

    @cached_property
    def admissions_by_patient(self) -> Many:
        return self.many(admissions.fetch_admissions_by_patient, "patient_id")

    @cached_property
    def bed_stays_by_admission(self) -> Many:
        return self.many(admissions.fetch_bed_stays_by_admission, "admission_id")

    @cached_property
    def observation(self) -> One:
        return self.one(observations.fetch_observations_by_id)

    @cached_property
    def latest_observation(self) -> One:
        return self.one(observations.fetch_latest_observations, "patient_id")

    # Keys are observations.PageKey(...).encode(): one statement for every patient's page.
    @cached_property
    def observation_pages(self) -> Many:
        return self.many(observations.fetch_observation_pages, "page_key")

    async def _fetch_wards(self, session: Session, tenant_id: UUID,
                           ids: list[UUID]) -> list[asyncpg.Record]:
        """Wards, priming the facility loader with their facilities: a ward is shown with its
        facility's currency, and this saves the statement that would fetch it."""
        rows = await organisation.fetch_wards_with_facility_by_id(session, tenant_id, ids)
        for row in rows:
            if row["facility"] is not None:
                self.facility.prime(row["facility_id"], row["facility"])
        return rows

    async def _fetch_beds_by_ward(self, session: Session, tenant_id: UUID,
                                  ward_ids: list[UUID]) -> list[asyncpg.Record]:
        """Beds, priming the loaders of their occupants (active admission, patient, latest
        observation, as far as the role's grants reach): db/ward_occupancy.py says why."""
        role = self._role
        if ward_occupancy.statement_for(role) is None:
            return await organisation.fetch_beds_by_ward(session, tenant_id, ward_ids)
        rows = await ward_occupancy.fetch_beds_with_occupants(session, role, tenant_id, ward_ids)
        with_observations = ward_occupancy.reads_observations(role)
        for row in rows:
            admission = ward_occupancy.admission_of(row)
            self.active_admission_by_bed.prime(row["id"], admission)
            if admission is None:
                continue
            patient = ward_occupancy.patient_of(row)
            self.patient.prime(admission["patient_id"], patient)
            if patient is not None and with_observations:
                self.latest_observation.prime(patient["id"], ward_occupancy.observation_of(row))
        return rows

    async def _run(self, fetch: Fetch, keys: list[Any], guarded: bool = False
                   ) -> list[asyncpg.Record]:
        session = await self._session()
        tenant_id = self._tenant_id
        if not guarded:
            return await fetch(session, tenant_id, keys)
        try:
            async with session.savepoint():
                return await fetch(session, tenant_id, keys)
        except asyncpg.PostgresError as error:
            raise to_app_error(error) or error from None

    def one(self, fetch: Fetch, column: str = "id", guarded: bool = False
            ) -> DataLoader[Any, asyncpg.Record | None]:
        """A loader of one row per key (None where the row is missing or not visible)."""

        async def load(keys: list[Any]) -> list[asyncpg.Record | None]:
            return index_rows(await self._run(fetch, keys, guarded), keys, column)

        return DataLoader(load_fn=load)

    def many(self, fetch: Fetch, column: str) -> DataLoader[Any, list[asyncpg.Record]]:
        """A loader of the rows whose `column` equals each key."""

        async def load(keys: list[Any]) -> list[list[asyncpg.Record]]:
            return group_rows(await self._run(fetch, keys), keys, column)

        return DataLoader(load_fn=load)
