"""Who is asking."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types.lazy_type import LazyType

from wardgraph.auth.claims import Claims
from wardgraph.context import RequestContext
from wardgraph.resolvers import viewer as resolve
from wardgraph.schema.enums import Role, ViewerKind
from wardgraph.schema.lazy import resolved
from wardgraph.schema.organisation import Facility, Tenant, User

if TYPE_CHECKING:
    from wardgraph.schema.partner_tokens import PartnerToken

Info = strawberry.Info[RequestContext, None]

# PartnerToken's module is built after this one's users: reached through strawberry's lazy
# reference, not imported.
_PARTNER_TOKEN: LazyType[str, str] = LazyType("PartnerToken", "wardgraph.schema.partner_tokens")


@strawberry.type(description="The caller: a user or a partner token, and what it may reach.")
class Viewer:
    kind: ViewerKind = strawberry.field(description="A person (USER) or an integration (PARTNER).")
    role: Role = strawberry.field(description="The role the database enforces for this caller.")
    scopes: list[str] = strawberry.field(description="A partner token's scopes (empty for users).")
    name: str | None = strawberry.field(description="A partner token's name.")
    expires_at: datetime | None = strawberry.field(description="When the credential expires.")

    @classmethod
    def of(cls, claims: Claims) -> Viewer:
        return cls(kind=ViewerKind.PARTNER if claims.is_partner else ViewerKind.USER,
                   role=Role(claims.role.value), scopes=list(claims.scopes),
                   name=claims.partner_name, expires_at=claims.expires_at)

    @strawberry.field(description="The caller's tenant.")
    async def tenant(self, info: Info) -> Tenant:
        return Tenant.from_row(await resolve.viewer_tenant(info.context))

    @strawberry.field(description="The signed-in user (null for a partner).")
    async def user(self, info: Info) -> User | None:
        row = await resolve.viewer_user(info.context)
        return User.from_row(row) if row is not None else None

    @strawberry.field(description="A partner's own token (null for a user).")
    async def partner_token(
        self, info: Info
    ) -> Annotated[PartnerToken, strawberry.lazy("wardgraph.schema.partner_tokens")] | None:
        row = await resolve.viewer_partner_token(info.context)
        return resolved(_PARTNER_TOKEN).from_row(row) if row is not None else None

    @strawberry.field(description="The facilities the caller may see.")
    async def facilities(self, info: Info) -> list[Facility]:
        return [Facility.from_row(r) for r in await resolve.viewer_facilities(info.context)]


@strawberry.type(description="A short-lived bearer token for a signed-in user.")
class LoginPayload:
    token: str = strawberry.field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime = strawberry.field(description="When the token stops working.")

    @classmethod
    def of(cls, granted: resolve.LoginGranted) -> LoginPayload:
        return cls(token=granted.token, expires_at=granted.expires_at)
