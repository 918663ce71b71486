"""Lazily referenced schema types are looked up once per process, not on every field."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.types.lazy_type import LazyType

from wardgraph.schema.admissions import Admission
from wardgraph.schema.lazy import resolved


def test_a_lazy_reference_resolves_to_its_class() -> None:
    assert resolved(LazyType("Admission", "wardgraph.schema.admissions")) is Admission


def test_a_lazy_reference_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    shipped = LazyType.resolve_type

    def counting(self: LazyType[Any, Any]) -> type[Any]:
        looked_up.append(self.type_name)
        return shipped(self)

    monkeypatch.setattr(LazyType, "resolve_type", counting)
    # A reference no other code makes (package "" rather than None), so none cached it before.
    lazy: LazyType[str, str] = LazyType("Observation", "wardgraph.schema.observations",
                                        package="")
    first = resolved(lazy)
    assert all(resolved(lazy) is first for _ in range(50))
    assert looked_up == ["Observation"]
