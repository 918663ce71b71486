"""Relay conventions: the Node interface, cursor connections and page info."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from wardgraph.paging import Page

T = TypeVar("T")
R = TypeVar("R")


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


def connection(page: Page[R], build: Callable[[R], T]) -> Connection[T]:
    """The connection that shows a page, each item built into its type."""
    edges = [Edge(cursor=page.cursors.encode(key), node=build(item)) for key, item in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
