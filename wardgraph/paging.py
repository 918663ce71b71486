"""Cursor pagination, as resolvers and the schema both see it: a page of rows with the sort key
of each, and the opaque cursors made of those keys. (The Relay types that show a page are in
schema/relay.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from wardgraph import errors
from wardgraph.cursors import CursorSigner

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The items of one page, each with its sort key, whether more follow, and the signer of
    the connection's cursors (wardgraph.cursors)."""

    items: list[tuple[list[Any], T]]
    has_next: bool
    cursors: CursorSigner

    @classmethod
    def of(cls, fetched: list[tuple[list[Any], T]], limit: int,
           cursors: CursorSigner) -> Page[T]:
        """The page of items fetched with limit + 1 rows: the extra one says more follow."""
        return cls(fetched[:limit], len(fetched) > limit, cursors)


def page_size(first: int | None, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise errors.invalid("first", f"first must be between 0 and {maximum}")
    return first
