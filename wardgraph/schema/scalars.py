"""Date and DateTime with a stated range: strawberry's own scalars accept any date Python
can hold, and the database driver turns the ends of that range into ±infinity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import dateutil.parser
import strawberry
from graphql import StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

from wardgraph.input_rules import DATE_RANGE, INSTANT_RANGE, date_problem, instant_problem


def _parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("Give a date as a string, e.g. \"2025-03-01\"")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("Not an ISO 8601 date, e.g. \"2025-03-01\"") from None


def _parse_instant(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("Give an instant as a string, e.g. \"2025-03-01T08:00:00Z\"")
    try:
        parsed: datetime = dateutil.parser.isoparse(value)
        return parsed
    except (ValueError, OverflowError):
        raise ValueError("Not an ISO 8601 instant, e.g. \"2025-03-01T08:00:00Z\"") from None


def parse_bounded_date(value: object) -> date:
    parsed = _parse_date(value)
    problem = date_problem(parsed)
    if problem is not None:
        raise ValueError(problem)
    return parsed


def parse_bounded_instant(value: object) -> datetime:
    parsed = _parse_instant(value)
    problem = instant_problem(parsed)
    if problem is not None:
        raise ValueError(problem)
    return parsed


# Literals are only parsed here: their range is checked with the name of the argument that
# holds them (wardgraph.pipeline.inputs), which a scalar does not know.
def _date_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> date:
    if not isinstance(node, StringValueNode):
        raise ValueError("Give a date as a string, e.g. \"2025-03-01\"")
    return _parse_date(node.value)


def _instant_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise ValueError("Give an instant as a string, e.g. \"2025-03-01T08:00:00Z\"")
    return _parse_instant(node.value)


BoundedDate = strawberry.scalar(
    name="Date",
    description=f"An ISO 8601 calendar date, from {DATE_RANGE[0].isoformat()} to "
                f"{DATE_RANGE[1].isoformat()}.",
    serialize=date.isoformat, parse_value=parse_bounded_date, parse_literal=_date_literal)

BoundedDateTime = strawberry.scalar(
    name="DateTime",
    description=f"An ISO 8601 instant with its UTC offset, from "
                f"{INSTANT_RANGE[0].isoformat()} to {INSTANT_RANGE[1].isoformat()}.",
    serialize=datetime.isoformat, parse_value=parse_bounded_instant,
    parse_literal=_instant_literal)

SCALAR_MAP: dict[object, ScalarDefinition] = {date: BoundedDate, datetime: BoundedDateTime}
