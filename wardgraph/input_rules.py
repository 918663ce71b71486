"""The ranges and text the API accepts, as plain functions: used by the checks at the edge
(wardgraph.pipeline.inputs), the Date and DateTime scalars, and the resolvers of business
timestamps.

- Text may hold neither a NUL byte (PostgreSQL text cannot: "invalid byte sequence") nor a
  lone UTF-16 surrogate (a JSON `\\ud800` with no partner is not a character, so it cannot be
  encoded as UTF-8 for the database or for the reply).
- Dates and instants have a stated range: the database driver turns the ends of Python's
  calendar into ±infinity, which SQL date arithmetic refuses.
- Business instants (admitted, transferred, discharged, recorded) are not before
  BUSINESS_EARLIEST, nor further than FUTURE_SKEW ahead of the request's clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from wardgraph import errors

DATE_RANGE = (date(1900, 1, 1), date(2200, 12, 31))
INSTANT_RANGE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 12, 31, 23, 59, 59,
                                                            tzinfo=UTC))
# The floor of every stored business instant: the start of the instant range. Histories entered
# from older records reach back decades (and the awkward zone changes the local-day rules are
# proven on, such as Kathmandu's +05:45 of 1986); anything before 1900 is a typo (0001 for 2001)
# or a probe, and never reaches the database as -infinity.
BUSINESS_EARLIEST = INSTANT_RANGE[0]
EARLIEST_TEXT = "1900-01-01T00:00:00Z"
# How far ahead of the server's clock a given time may be: a ward tablet's clock drifts, but an
# admission or an observation cannot be recorded before it happens.
FUTURE_SKEW = timedelta(minutes=5)
# The rule as the schema's descriptions state it.
BUSINESS_RANGE_TEXT = (f"Before {EARLIEST_TEXT} or later than "
                       f"{FUTURE_SKEW.seconds // 60} minutes from now is refused "
                       "(VALIDATION_FAILED).")


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored or answered back, or None."""
    if value.isascii():
        return "Text may not contain NUL bytes" if "\x00" in value else None
    if "\x00" in value:
        return "Text may not contain NUL bytes"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text may not contain lone UTF-16 surrogates"
    return None


def date_problem(value: date) -> str | None:
    low, high = DATE_RANGE
    if low <= value <= high:
        return None
    return f"Dates must be from {low.isoformat()} to {high.isoformat()}"


def instant_problem(value: datetime) -> str | None:
    low, high = INSTANT_RANGE
    if value.tzinfo is None:
        return "Give the instant with its UTC offset, e.g. 2025-03-01T08:00:00Z"
    if low <= value <= high:
        return None
    return f"Instants must be from {low.isoformat()} to {high.isoformat()}"


def business_instant(field: str, value: datetime | None, now: datetime,
                     future: str = "The time is in the future") -> datetime:
    """A business timestamp as given, or the request's clock when absent; refused without a
    UTC offset, before BUSINESS_EARLIEST, or further than FUTURE_SKEW ahead of the clock."""
    if value is None:
        return now
    if value.tzinfo is None or value.utcoffset() is None:
        raise errors.invalid(field, "Give the time with its UTC offset, e.g. "
                             "2025-01-31T09:30:00+06:00")
    if value < BUSINESS_EARLIEST:
        raise errors.invalid(field, f"The time may not be before {EARLIEST_TEXT}")
    if value > now + FUTURE_SKEW:
        raise errors.invalid(field, future)
    return value
