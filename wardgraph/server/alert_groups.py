"""Which live-alert subscribers must see the same escalations: those whose claims agree on
everything a policy on the alert's read consults.

Row-level security decides what a read returns from the role and the claims set for its
transaction. Two subscribers with the same role and the same values of every claim the
policies read see the same rows, so one read under either's claims answers both. The claims
the escalations' read policies consult today (tests/test_alert_groups.py derives them from the
live catalog, through every function a policy calls, and fails when a policy starts reading a
claim not listed here): the tenant, the facility ids and the scopes; the role picks the
policies themselves. The user id and partner token id are read by no read policy of
app.escalations (only by its insert check), so subscribers who differ only in who they are
share one read; each still gets an audit event of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from wardgraph.auth.claims import Claims, Role

# The claim settings (wg.*) a group's members agree on; `role` is the transaction's role.
GROUPED_CLAIMS = frozenset({"role", "wg.role", "wg.tenant_id", "wg.facility_ids", "wg.scopes"})


@dataclass(frozen=True)
class GroupKey:
    tenant_id: UUID
    role: Role
    facility_ids: frozenset[UUID]
    scopes: frozenset[str]


def group_key(claims: Claims) -> GroupKey:
    """Order and repetition in a claim's list change nothing a policy decides (`= any (...)`),
    so the lists are compared as sets."""
    return GroupKey(claims.tenant_id, claims.role, frozenset(claims.facility_ids),
                    frozenset(claims.scopes))
