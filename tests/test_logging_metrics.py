"""Operations: JSON log lines that carry their request's id, and Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import TenantKit
from tests.harness import Api, DatabaseUnderTest
from tests.serving import ServeProcess, metric, serve_environment
from wardgraph.server.log import FIELDS, JsonFormatter, request_id_var
from wardgraph.server.metrics import MAX_OPERATIONS, Metrics


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log record of the process, as the JSON lines `wardgraph serve` writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_line_is_one_json_object_with_the_contract_fields() -> None:
    token = request_id_var.set("abc123")
    try:
        record = logging.LogRecord("wardgraph.test", logging.WARNING, __file__, 1,
                                   "hello %s", ("world",), None)
        record.code = "OK"
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    parsed = json.loads(line)
    assert "\n" not in line
    assert list(parsed)[:len(FIELDS)] == list(FIELDS)
    assert (parsed["level"], parsed["msg"], parsed["request_id"], parsed["code"]) == (
        "WARNING", "hello world", "abc123", "OK")


async def test_every_line_logged_during_a_request_carries_its_id(
    api: Api, captured: io.StringIO,
) -> None:
    # An invalid document: strawberry logs the error while the request is served, then the
    # request's own line is written; both name the request.
    response = await api.client.post("/graphql", json={
        "query": "query Broken { noSuchField }", "operationName": "Broken"})
    request_id = response.headers["x-request-id"]
    mine = [line for line in lines_of(captured) if line["request_id"] == request_id]
    assert {line["logger"] for line in mine} >= {"strawberry.execution", "wardgraph.requests"}
    others = [line for line in lines_of(captured)
              if line["logger"] == "strawberry.execution" and line["request_id"] != request_id]
    assert others == []


async def test_request_line_names_operation_code_and_duration(
    api: Api, tenant: TenantKit, captured: io.StringIO,
) -> None:
    response = await api.post("query Who { viewer { role } }", token=tenant.admin_token)
    [line] = [line for line in lines_of(captured)
              if line["request_id"] == response.headers["x-request-id"]]
    assert (line["msg"], line["operation"], line["code"], line["status"]) == (
        "graphql request", "Who", "OK", 200)
    assert line["duration_ms"] > 0


async def test_serve_writes_json_lines_with_the_request_id_in_production(
    database: DatabaseUnderTest, tenant: TenantKit, tmp_path: Path,
) -> None:
    env = serve_environment(database.api_url, database.admin_url, WARDGRAPH_ENV="production")
    serve = ServeProcess(env, tmp_path / "serve.log")
    try:
        await serve.wait_ready()
        api = Api(serve.url)
        try:
            ok = await api.post("query Who { viewer { role } }", token=tenant.admin_token)
            refused = await api.post("query Deep { viewer { role } }", token="wgp_unknown")
        finally:
            await api.close()
    finally:
        serve.stop()
    assert ok.json() == {"data": {"viewer": {"role": "ADMIN"}}}
    raw = (tmp_path / "serve.log").read_text().splitlines()
    assert raw and all(line.startswith("{") for line in raw), raw
    by_id = {line["request_id"]: line for line in serve.log_lines()
             if line["msg"] == "graphql request"}
    assert by_id[ok.headers["x-request-id"]]["code"] == "OK"
    assert by_id[refused.headers["x-request-id"]]["code"] == "UNAUTHENTICATED"
    assert by_id[refused.headers["x-request-id"]]["operation"] == "Deep"


# -- metrics -------------------------------------------------------------------------------------

async def test_metrics_count_requests_by_operation_and_code(api: Api, tenant: TenantKit) -> None:
    before_ok = await metric(api, "wardgraph_graphql_requests_total", operation="Counted",
                             code="OK")
    before_denied = await metric(api, "wardgraph_graphql_requests_total", operation="Counted",
                                 code="UNAUTHENTICATED")
    await api.post("query Counted { viewer { role } }", token=tenant.admin_token)
    await api.post("query Counted { viewer { role } }", token=tenant.admin_token)
    await api.post("query Counted { viewer { role } }")
    assert await metric(api, "wardgraph_graphql_requests_total", operation="Counted",
                        code="OK") == before_ok + 2
    assert await metric(api, "wardgraph_graphql_requests_total", operation="Counted",
                        code="UNAUTHENTICATED") == before_denied + 1
    assert await metric(api, "wardgraph_graphql_request_duration_seconds_count",
                        operation="Counted") >= 3


async def test_metrics_show_the_pool_and_open_subscriptions(api: Api) -> None:
    text = (await api.client.get("/metrics")).text
    for name in ("wardgraph_db_pool_connections_in_use", "wardgraph_db_pool_connections",
                 "wardgraph_subscriptions_open"):
        assert f"\n{name} " in text
    assert await metric(api, "wardgraph_db_pool_connections") >= 1


def test_operation_label_takes_a_bounded_number_of_names() -> None:
    metrics = Metrics()
    labels = {metrics.operation_label(f"Op{n}") for n in range(MAX_OPERATIONS + 10)}
    assert len(labels) == MAX_OPERATIONS + 1 and "other" in labels
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("x" * 500) == "other"
