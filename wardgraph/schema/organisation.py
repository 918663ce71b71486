"""Tenants, facilities, wards, beds and users."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types.lazy_type import LazyType

from wardgraph import ids
from wardgraph.context import RequestContext
from wardgraph.resolvers import admissions
from wardgraph.resolvers import organisation as resolve
from wardgraph.schema.enums import Role
from wardgraph.schema.lazy import resolved
from wardgraph.schema.money import Money
from wardgraph.schema.relay import Node

if TYPE_CHECKING:
    from wardgraph.schema.admissions import Admission

Info = strawberry.Info[RequestContext, None]

# Admission refers back to Bed: it is built through strawberry's lazy reference, not imported.
_ADMISSION: LazyType[str, str] = LazyType("Admission", "wardgraph.schema.admissions")


@strawberry.type(description="A hospital organisation: the unit of isolation.")
class Tenant(Node):
    slug: str = strawberry.field(description="Short name used at login.")
    name: str = strawberry.field(description="Display name.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Tenant:
        return cls(id=strawberry.ID(ids.encode("Tenant", row["tenant_id"])), slug=row["slug"],
                   name=row["name"])


@strawberry.type(description="A hospital site with its own local time zone.")
class Facility(Node):
    db_id: strawberry.Private[UUID]
    code: str = strawberry.field(description="Short upper-case code, unique in the tenant; "
                                 "prefixes admission numbers.")
    name: str = strawberry.field(description="Display name.")
    timezone: str = strawberry.field(description="IANA time zone: every local date of this "
                                     "facility (bed-days, reports, numbers) rolls over at its "
                                     "local midnight.")
    currency: str = strawberry.field(description="ISO 4217 currency of its charges.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Facility:
        return cls(id=strawberry.ID(ids.encode("Facility", row["id"])), db_id=row["id"],
                   code=row["code"], name=row["name"], timezone=row["timezone"],
                   currency=row["currency"], created_at=row["created_at"])

    @strawberry.field(description="The facility's wards, by name.")
    async def wards(self, info: Info) -> list[Ward]:
        return [Ward.of(w) for w in await resolve.facility_wards(info.context, self.db_id)]


@strawberry.type(description="A ward of a facility, with its daily bed rate.")
class Ward(Node):
    db_id: strawberry.Private[UUID]
    facility_id: strawberry.Private[UUID]
    name: str = strawberry.field(description="Display name, unique in the facility.")
    daily_rate: Money = strawberry.field(description="Charged per bed-day, in the facility's "
                                         "currency.")

    @classmethod
    def from_row(cls, row: asyncpg.Record, currency: str) -> Ward:
        return cls(id=strawberry.ID(ids.encode("Ward", row["id"])), db_id=row["id"],
                   facility_id=row["facility_id"], name=row["name"],
                   daily_rate=Money.of(row["daily_rate"], currency))

    @classmethod
    def of(cls, ward: resolve.PricedWard) -> Ward:
        return cls.from_row(ward.row, ward.currency)

    @strawberry.field(description="The facility the ward belongs to.")
    async def facility(self, info: Info) -> Facility:
        return Facility.from_row(await resolve.facility_of(info.context, self.facility_id))

    @strawberry.field(description="The ward's beds, by label, with their occupancy.")
    async def beds(self, info: Info) -> list[Bed]:
        return [Bed.from_row(r) for r in await resolve.ward_beds(info.context, self.db_id)]


@strawberry.type(description="A bed of a ward.")
class Bed(Node):
    db_id: strawberry.Private[UUID]
    ward_id: strawberry.Private[UUID]
    facility_id: strawberry.Private[UUID]
    label: str = strawberry.field(description="Label, unique in the ward.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Bed:
        return cls(id=strawberry.ID(ids.encode("Bed", row["id"])), db_id=row["id"],
                   ward_id=row["ward_id"], facility_id=row["facility_id"], label=row["label"])

    @strawberry.field(description="The ward the bed belongs to.")
    async def ward(self, info: Info) -> Ward:
        return Ward.of(await resolve.ward_of(info.context, self.ward_id))

    @strawberry.field(description="Whether a patient is in the bed now (partners need the "
                      "admissions:read scope).")
    async def occupied(self, info: Info) -> bool:
        return await admissions.bed_occupied(info.context, self.db_id)

    @strawberry.field(description="The admission of the patient in the bed now, if any "
                      "(partners need the admissions:read scope).")
    async def current_admission(
        self, info: Info
    ) -> Annotated[Admission, strawberry.lazy("wardgraph.schema.admissions")] | None:
        row = await admissions.bed_current_admission(info.context, self.db_id)
        return resolved(_ADMISSION).from_row(row) if row is not None else None


@strawberry.type(description="A member of staff.")
class User(Node):
    db_id: strawberry.Private[UUID]
    email: str = strawberry.field(description="Login e-mail, unique in the tenant.")
    display_name: str = strawberry.field(description="Name shown to colleagues.")
    role: Role = strawberry.field(description="What the user may do.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> User:
        return cls(id=strawberry.ID(ids.encode("User", row["id"])), db_id=row["id"],
                   email=row["email"], display_name=row["display_name"], role=Role(row["role"]))

    @strawberry.field(description="The facilities the user works in (every facility for "
                      "ADMIN).")
    async def facilities(self, info: Info) -> list[Facility]:
        return [Facility.from_row(r)
                for r in await resolve.user_facilities(info.context, self.db_id)]
