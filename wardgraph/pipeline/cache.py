"""A bounded least-recently-used mapping, for what is derived from a document's text and kept
across requests (parse, validity, limits, plans): clients decide how many distinct documents
there are, so an unbounded cache would let them grow the server's memory at will."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")

# Distinct documents remembered by each cache.
CACHED_DOCUMENTS = 256


class BoundedCache(Generic[Value]):
    def __init__(self, size: int = CACHED_DOCUMENTS) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, Value] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        """Whether the key is present, marking it as recently used."""
        return self.get(key) is not None

    def get(self, key: Hashable) -> Value | None:
        """The value, marked as recently used; None when absent."""
        if key not in self.entries:
            return None
        self.entries.move_to_end(key)
        return self.entries[key]

    def put(self, key: Hashable, value: Value) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
