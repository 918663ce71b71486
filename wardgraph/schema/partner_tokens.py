"""Partner tokens: scoped credentials for integrations."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import strawberry

from wardgraph import ids
from wardgraph.context import RequestContext
from wardgraph.resolvers import partner_tokens as resolve
from wardgraph.schema.organisation import Facility
from wardgraph.schema.relay import Node

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="A partner's token. The token itself is shown once, at creation; "
                 "only its SHA-256 is stored.")
class PartnerToken(Node):
    db_id: strawberry.Private[UUID]
    name: str = strawberry.field(description="Who or what the token is for.")
    scopes: list[str] = strawberry.field(description="What it may do, e.g. observations:read.")
    expires_at: datetime = strawberry.field(description="After this instant it is refused.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked, if it was: "
                                                   "refused from that moment, with no cache.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> PartnerToken:
        return cls(id=strawberry.ID(ids.encode("PartnerToken", row["id"])), db_id=row["id"],
                   name=row["name"], scopes=list(row["scopes"]), expires_at=row["expires_at"],
                   revoked_at=row["revoked_at"], created_at=row["created_at"])

    @strawberry.field(description="The facilities whose data the token may reach.")
    async def facilities(self, info: Info) -> list[Facility]:
        return [Facility.from_row(r)
                for r in await resolve.token_facilities(info.context, self.db_id)]


@strawberry.type(description="A new partner token: `token` is shown this once.")
class CreatePartnerTokenPayload:
    token: str = strawberry.field(description="Send as `Authorization: Bearer <token>`; store it "
                                  "now, it cannot be shown again.")
    partner_token: PartnerToken = strawberry.field(description="The token's record.")

    @classmethod
    def of(cls, created: resolve.NewPartnerToken) -> CreatePartnerTokenPayload:
        return cls(token=created.token, partner_token=PartnerToken.from_row(created.row))


@strawberry.input(description="A new partner token.")
class CreatePartnerTokenInput:
    name: str = strawberry.field(description="Who or what the token is for.")
    scopes: list[str] = strawberry.field(description="Any of patients:read, admissions:read, "
                                         "observations:read, observations:write, billing:read, "
                                         "reports:read.")
    facility_ids: list[strawberry.ID] = strawberry.field(description="Facilities it may reach.")
    expires_at: datetime = strawberry.field(description="When it stops working (at most a year "
                                            "ahead).")


@strawberry.input(description="The token to revoke.")
class RevokePartnerTokenInput:
    id: strawberry.ID = strawberry.field(description="The partner token's id.")
