"""Cursor pagination, as resolvers and the schema both see it: a page of rows with the sort key
of each, and the opaque cursors made of those keys. (The Relay types that show a page are in
schema/relay.py.)"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from wardgraph import errors

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The items of one page, each with its sort key, and whether more follow."""

    items: list[tuple[list[Any], T]]
    has_next: bool

    @classmethod
    def of(cls, fetched: list[tuple[list[Any], T]], limit: int) -> Page[T]:
        """The page of items fetched with limit + 1 rows: the extra one says more follow."""
        return cls(fetched[:limit], len(fetched) > limit)


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode()


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    """The sort key in a cursor; a cursor we did not issue is a validation error."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as error:
        raise errors.invalid("after", "Not a cursor from this connection") from error
    if not isinstance(key, list) or len(key) != length:
        raise errors.invalid("after", "Not a cursor from this connection")
    return key


def page_size(first: int | None, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise errors.invalid("first", f"first must be between 0 and {maximum}")
    return first
