"""Types referred to lazily (`strawberry.lazy`, for types that refer back to each other),
found once per process."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.types.lazy_type import LazyType


@cache
def resolved(lazy: LazyType[Any, Any]) -> type[Any]:
    """The class a lazy reference names. strawberry's LazyType.resolve_type() imports the module
    and, in a process started as `python -m ...` (uvicorn), stats two files to compare them, on
    every call: a ward dashboard called it about 50 times, an eighth of its CPU."""
    return lazy.resolve_type()
