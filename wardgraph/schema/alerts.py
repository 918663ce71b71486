"""Live NEWS2 alerts, as a subscriber receives them."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime

import asyncpg
import strawberry

from wardgraph import ids
from wardgraph.schema.enums import News2Risk


@strawberry.type(description="A NEWS2 escalation, sent as it is raised: an observation scored "
                 "MEDIUM or HIGH risk, or with a red score (a parameter scoring 3). Ids only "
                 "beyond the score: read the patient, ward or observation with node(id:).")
class News2Alert:
    escalation_id: strawberry.ID = strawberry.field(description="Opaque id of the escalation.")
    patient_id: strawberry.ID = strawberry.field(description="The patient's global id.")
    ward_id: strawberry.ID | None = strawberry.field(
        description="The ward the patient was in; null when not admitted at the time.")
    observation_id: strawberry.ID = strawberry.field(
        description="The observation that raised it.")
    total: int = strawberry.field(description="The NEWS2 aggregate score, 0 to 20.")
    risk: News2Risk = strawberry.field(description="The clinical risk of that score.")
    red_score: bool = strawberry.field(description="Whether some parameter scored 3.")
    raised_at: datetime = strawberry.field(
        description="When the observation was recorded, with a UTC offset.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> News2Alert:
        return cls(
            escalation_id=strawberry.ID(ids.encode("Escalation", row["id"])),
            patient_id=strawberry.ID(ids.encode("Patient", row["patient_id"])),
            ward_id=(strawberry.ID(ids.encode("Ward", row["ward_id"]))
                     if row["ward_id"] is not None else None),
            observation_id=strawberry.ID(ids.encode("Observation", row["observation_id"])),
            total=row["news2_total"],
            risk=News2Risk(row["news2_risk"]),
            red_score=row["red_score"],
            raised_at=row["raised_at"],
        )


async def alerts_of(
    rows: AsyncGenerator[asyncpg.Record, None],
) -> AsyncGenerator[News2Alert, None]:
    # aclosing: when the client completes the subscription, the row stream's cleanup
    # (unsubscribing from the hub) runs now, not whenever the generator is collected.
    async with aclosing(rows):
        async for row in rows:
            yield News2Alert.from_row(row)
