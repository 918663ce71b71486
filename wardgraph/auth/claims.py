"""Who is asking: the claims of a user's JWT or a partner token, as the database will see them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


class Role(enum.Enum):
    ADMIN = "ADMIN"
    CLINICIAN = "CLINICIAN"
    NURSE = "NURSE"
    BILLING = "BILLING"
    AUDITOR = "AUDITOR"
    PARTNER = "PARTNER"

    @property
    def db_role(self) -> str:
        """The Postgres role the request's transaction becomes."""
        return "wg_" + self.value.lower()


USER_ROLES = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR)

PARTNER_SCOPES = (
    "patients:read",
    "admissions:read",
    "observations:read",
    "observations:write",
    "billing:read",
    "reports:read",
)


@dataclass(frozen=True)
class Claims:
    tenant_id: UUID
    role: Role
    user_id: UUID | None = None
    partner_token_id: UUID | None = None
    facility_ids: tuple[UUID, ...] = ()
    scopes: tuple[str, ...] = ()
    partner_name: str | None = None
    expires_at: datetime | None = None

    @property
    def is_partner(self) -> bool:
        return self.role is Role.PARTNER

    @property
    def actor_id(self) -> UUID | None:
        return self.partner_token_id if self.is_partner else self.user_id


def pg_array(values: tuple[object, ...]) -> str:
    """A Postgres array literal of simple values (uuids, scope names): '{a,b}'."""
    return "{" + ",".join(str(v) for v in values) + "}"
