"""Relay conventions: the Node interface, cursor connections and page info."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import strawberry

from wardgraph import errors
from wardgraph.cursors import CursorSigner

T = TypeVar("T")


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global id.")


@strawberry.type(description="Where a page of a connection stands.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(description="One item of a connection and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of items, Relay style.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more items follow.")


def page_size(first: int | None, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise errors.invalid("first", f"first must be between 0 and {maximum}")
    return first


def connection(items: list[tuple[list[Any], T]], limit: int,
               cursors: CursorSigner) -> Connection[T]:
    """A connection from (sort key, item) pairs fetched with limit + 1 rows."""
    page = items[:limit]
    edges = [Edge(cursor=cursors.encode(key), node=node) for key, node in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(items) > limit,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
