"""The schema's extensions run in the one order wardgraph/pipeline/__init__.py gives reasons for."""

from __future__ import annotations

from functools import partial
from typing import Any

from strawberry.extensions import DisableIntrospection

from tests.harness import settings_for_tests
from wardgraph.pipeline import ordered_extensions
from wardgraph.pipeline.documents import ParsedDocuments, ValidatedDocuments
from wardgraph.pipeline.inputs import CheckedInputs
from wardgraph.pipeline.limits import QueryLimits
from wardgraph.pipeline.persisted import PersistedQueries, PersistedQueryStore
from wardgraph.pipeline.planned import PlannedQueries
from wardgraph.pipeline.transaction import TransactionPerOperation
from wardgraph.server.app import extensions_for
from wardgraph.server.live import LiveTransport
from wardgraph.server.metrics import LabelOperation


def named(extensions: list[Any]) -> list[Any]:
    return [e.func if isinstance(e, partial) else e for e in extensions]


STORE = PersistedQueryStore(pool=None, mode="apq", acquire_timeout=1.0)  # type: ignore[arg-type]


def test_persisted_queries_come_first_and_the_caches_and_plans_last() -> None:
    observer = object()
    assert named(ordered_extensions(STORE, production=False, observers=(observer,))) == [
        PersistedQueries, observer, QueryLimits, TransactionPerOperation, CheckedInputs,
        ParsedDocuments, ValidatedDocuments, PlannedQueries]


def test_production_refuses_introspection_before_anything_else_runs() -> None:
    assert named(ordered_extensions(STORE, production=True))[0] is DisableIntrospection
    assert DisableIntrospection not in named(ordered_extensions(STORE, production=False))


def test_the_server_puts_its_observers_between_persisted_queries_and_the_limits() -> None:
    extensions = named(extensions_for(settings_for_tests(), STORE))
    assert extensions[:4] == [PersistedQueries, LabelOperation, LiveTransport, QueryLimits]
