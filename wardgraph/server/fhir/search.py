"""Search parameters of the FHIR face: the few the interactions offer, each checked, and
anything else refused rather than ignored (a silently ignored filter returns too much)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from starlette.datastructures import QueryParams

from wardgraph import errors
from wardgraph.server.fhir.outcomes import unsupported

DEFAULT_COUNT = 20
# Parameters every search may carry: paging, and _format, which only JSON answers.
COMMON = {"_count", "_sort", "_page", "_format"}
# Observation categories and the kinds of resource each one selects.
CATEGORIES = {"vital-signs", "survey"}
DATE_PREFIXES = ("ge", "gt", "le", "lt")


def only(params: QueryParams, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed | COMMON:
            raise unsupported(f"The search parameter {name} is not supported here", name)


def one(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise unsupported(f"Give {name} once", name)
    return values[0] if values else None


def reference_id(value: str, kind: str, name: str) -> UUID:
    """The uuid of `Patient/<id>` or `<id>`; a value naming nothing answers an empty search
    elsewhere, so here only its form is checked."""
    raw = value.removeprefix(f"{kind}/")
    try:
        return UUID(raw)
    except ValueError:
        raise errors.invalid(name, f"{name} must be a {kind} id") from None


def required_patient(params: QueryParams) -> UUID:
    value = one(params, "patient") or one(params, "subject")
    if value is None:
        raise errors.invalid("patient", "Search by patient: patient=<Patient id>")
    return reference_id(value, "Patient", "patient")


def count(params: QueryParams, largest: int) -> int:
    value = one(params, "_count")
    if value is None:
        return DEFAULT_COUNT
    if not value.isdigit() or not 1 <= int(value) <= largest:
        raise errors.invalid("_count", f"_count is a whole number from 1 to {largest}")
    return int(value)


def sort_newest_first(params: QueryParams) -> None:
    value = one(params, "_sort")
    if value not in (None, "-date"):
        raise unsupported("Observations are sorted by -date (newest first) only", "_sort")


@dataclass(frozen=True)
class DateRange:
    """Bounds on effective[x]: after (ge/gt) and before (le/lt), each inclusive or not."""

    after: datetime | None = None
    after_inclusive: bool = True
    before: datetime | None = None
    before_inclusive: bool = True

    def admits(self, moment: datetime) -> bool:
        if self.after is not None and (
                moment < self.after or (moment == self.after and not self.after_inclusive)):
            return False
        return not (self.before is not None and (
            moment > self.before or (moment == self.before and not self.before_inclusive)))


def date_range(params: QueryParams) -> DateRange:
    found = DateRange()
    for value in params.getlist("date"):
        prefix, moment = value[:2], value[2:]
        if prefix not in DATE_PREFIXES:
            raise unsupported("date takes ge, gt, le or lt and an instant with its offset",
                              "date")
        try:
            when = datetime.fromisoformat(moment)
        except ValueError:
            raise errors.invalid("date", "date must be an instant, e.g. ge2025-03-01T00:00:00Z"
                                 ) from None
        if when.tzinfo is None:
            raise errors.invalid("date", "date must carry its offset (Z or +hh:mm)")
        if prefix in ("ge", "gt"):
            found = DateRange(when, prefix == "ge", found.before, found.before_inclusive)
        else:
            found = DateRange(found.after, found.after_inclusive, when, prefix == "le")
    return found


def category(params: QueryParams) -> str | None:
    value = one(params, "category")
    if value is None:
        return None
    code = value.rpartition("|")[2]
    if code not in CATEGORIES:
        raise unsupported("category is vital-signs or survey (the NEWS2 total)", "category")
    return code
