"""What each server-path optimisation buys: the ward dashboard served by wardgraph as it is, and
then with one optimisation undone at a time, in alternating rounds on the same data.

Undoing is done here, at server start, by replacing the piece in the running process (the
factory `bench.optimisations:app`), so the product carries no switch for it:

  planned queries   wardgraph.pipeline.planned.PlannedQueries (every query through
                    graphql-core's executor)
  document caches   wardgraph.pipeline.documents.ParsedDocuments / ValidatedDocuments
  orjson            the responses encoded with the standard library's json instead
  no pool reset     asyncpg's default reset round trip on every release (wardgraph.db.pool)
  merged trips      BEGIN and the claims, the audit append and COMMIT, each in two round trips
                    rather than one (wardgraph.db.session, wardgraph.db.audit)
  ward + facility   the facility fetched by a statement of its own (one statement more)
  ward occupancy    beds, admissions, patients and latest observations each by a statement of
                    its own (three more; wardgraph.db.ward_occupancy)
  gc.freeze         the collector walking the schema's objects again (wardgraph.server.app)
  gc thresholds     the collector at Python's default thresholds (wardgraph.server.app)
  uvloop/httptools  uvicorn on asyncio and h11

and, measured the same way, two settings (2 worker processes; a pool of 10 connections) and one
diagnostic that is not an option: the request without its PHI audit write, which shows what the
audit trail (which the peer does not keep) costs.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType, SimpleNamespace
from typing import Any

from starlette.applications import Starlette

UNDO = "WARDGRAPH_BENCH_UNDO"


@dataclass(frozen=True)
class Variant:
    name: str
    undo: str = ""  # what the factory replaces, by the keys of PATCHES
    workers: int | None = None
    pool_size: int | None = None
    loop: str | None = None
    http: str | None = None


VARIANTS = (
    Variant("as shipped"),
    Variant("without planned queries", undo="planned"),
    Variant("without document caches", undo="caches"),
    Variant("without orjson", undo="orjson"),
    Variant("with asyncpg's pool reset", undo="pool_reset"),
    Variant("without merged round trips", undo="round_trips"),
    Variant("without the ward's facility in one statement", undo="ward_facility"),
    Variant("without the beds' occupants in one statement", undo="ward_occupancy"),
    Variant("without gc.freeze", undo="gc_freeze"),
    Variant("with the collector's default thresholds", undo="gc_thresholds"),
    Variant("on asyncio/h11", loop="asyncio", http="h11"),
    Variant("with 2 workers", workers=2),
    Variant("with a pool of 10", pool_size=10),
    Variant("diagnostic: no audit write", undo="audit"),
)


def swap(module: ModuleType | type, name: str, value: Any) -> None:
    """Replace one name of a module for this process."""
    setattr(module, name, value)


def _undo_caches() -> None:
    import wardgraph.server.app as app
    from wardgraph.pipeline.documents import ParsedDocuments, ValidatedDocuments

    shipped = app.extensions_for

    def extensions_for(*args: Any) -> list[Any]:
        return [e for e in shipped(*args) if e not in (ParsedDocuments, ValidatedDocuments)]

    swap(app, "extensions_for", extensions_for)


def _undo_planned() -> None:
    import wardgraph.server.app as app
    from wardgraph.pipeline.planned import PlannedQueries

    shipped = app.extensions_for

    def extensions_for(*args: Any) -> list[Any]:
        return [e for e in shipped(*args) if e is not PlannedQueries]

    swap(app, "extensions_for", extensions_for)


def _undo_orjson() -> None:
    import wardgraph.server.app as app

    swap(app, "orjson", SimpleNamespace(
        dumps=lambda data: json.dumps(data, separators=(",", ":"))))


def _undo_pool_reset() -> None:
    import wardgraph.db.pool as pool

    swap(pool, "keep_session", None)  # asyncpg's default reset


def _undo_round_trips() -> None:
    import re

    from wardgraph.db import audit, session

    swap(session, "inline", lambda *_: None)
    swap(audit, "SAFE_EVENTS", re.compile(r"(?!)"))  # matches nothing


# The ward alone: its facility then costs a statement of its own.
WARDS_BY_ID = """
select tenant_id, id, facility_id, name, daily_rate, created_at
from app.wards where tenant_id = $1 and id = any($2::uuid[])
"""


def _undo_ward_facility() -> None:
    from wardgraph.db import loaders

    async def fetch_wards(session: Any, tenant_id: Any, ids: list[Any]) -> Any:
        return await session.fetch(WARDS_BY_ID, tenant_id, ids)

    shipped = loaders.Loaders.__init__

    def __init__(self: loaders.Loaders, *args: Any) -> None:
        shipped(self, *args)
        self.ward = self.one(fetch_wards)

    swap(loaders.Loaders, "__init__", __init__)


def _undo_ward_occupancy() -> None:
    from wardgraph.db import ward_occupancy

    swap(ward_occupancy, "STATEMENTS", {})


def _undo_gc_freeze() -> None:
    import wardgraph.server.app as app

    swap(app, "gc", SimpleNamespace(collect=lambda: 0, freeze=lambda: None,
                                    set_threshold=gc.set_threshold))


def _undo_gc_thresholds() -> None:
    import wardgraph.server.app as app

    swap(app, "COLLECTOR_THRESHOLDS", (700, 10, 10))


def _undo_audit() -> None:
    import wardgraph.context as context

    async def commit_without_audit(session: Any, *_: Any) -> None:
        await session.execute("commit")

    swap(context, "commit_with_audit_events", commit_without_audit)


PATCHES: dict[str, Callable[[], None]] = {
    "planned": _undo_planned, "caches": _undo_caches, "orjson": _undo_orjson,
    "pool_reset": _undo_pool_reset, "round_trips": _undo_round_trips,
    "ward_facility": _undo_ward_facility, "ward_occupancy": _undo_ward_occupancy,
    "gc_freeze": _undo_gc_freeze,
    "gc_thresholds": _undo_gc_thresholds, "audit": _undo_audit,
}


def app() -> Starlette:
    """The uvicorn factory: wardgraph's app with the optimisations named in
    WARDGRAPH_BENCH_UNDO undone."""
    from bench.servers import wardgraph_app

    for name in filter(None, os.environ.get(UNDO, "").split(",")):
        PATCHES[name]()
    return wardgraph_app()


def options_for(variant: Variant, shipped: Any) -> Any:
    return replace(shipped, workers=variant.workers or shipped.workers,
                   pool_size=variant.pool_size or shipped.pool_size,
                   loop=variant.loop or shipped.loop, http=variant.http or shipped.http)


def summarise(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, Any]]:
    """Medians over the rounds, and what keeping each optimisation buys: the shipped figure
    over the figure with it undone."""
    medians = {name: {clients: {key: statistics.median(r[key] for r in rounds)
                                for key in ("rps", "p50_ms", "p99_ms")}
                      for clients, rounds in by_clients.items()}
               for name, by_clients in runs.items()}
    shipped = medians[VARIANTS[0].name]
    summary: dict[str, dict[str, Any]] = {}
    for name, by_clients in medians.items():
        summary[name] = {}
        for clients, figures in by_clients.items():
            base = shipped[clients]
            summary[name][clients] = {
                **figures,
                "shipped_rps_over_this": base["rps"] / figures["rps"] if figures["rps"] else 0,
                "shipped_p99_over_this": base["p99_ms"] / figures["p99_ms"]
                if figures["p99_ms"] else 0,
            }
    return summary
