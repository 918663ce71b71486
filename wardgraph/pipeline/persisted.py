"""Persisted queries: Automatic Persisted Queries (APQ) for mobile clients, and an allow-list.

APQ (the protocol Apollo's clients speak): a client sends `extensions.persistedQuery =
{version: 1, sha256Hash}` without the query; an unknown hash answers PERSISTED_QUERY_NOT_FOUND,
and the client repeats the request with the query, which is registered once its hash is verified
and it has validated. Queries are stored per deployment in platform.persisted_queries.

Allow-list mode (WARDGRAPH_PERSISTED_QUERIES=allowlist) runs only operations the operator
registered with `wardgraph operations add FILE.graphql`, by hash or by their exact text; anything
else answers PERSISTED_QUERY_NOT_ALLOWED, and clients cannot register.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    validate,
    visit,
)
from strawberry.extensions import SchemaExtension

from wardgraph import errors
from wardgraph.context import RequestContext
from wardgraph.db import persisted_queries as db
from wardgraph.db.errors import UNAVAILABLE
from wardgraph.errors import AppError
from wardgraph.pipeline.cache import BoundedCache

log = logging.getLogger("wardgraph.persisted_queries")

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
# Apollo's clients recognise these messages as well as the codes.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"

CACHE_SIZE = 5000
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredQuery:
    query: str
    allow_listed: bool


class PersistedQueryStore:
    """The deployment's persisted queries, with an in-process cache. A hash names one text
    forever, so a cached text never goes stale; only `allow_listed` can change (to true)."""

    def __init__(self, pool: asyncpg.Pool, mode: str, acquire_timeout: float) -> None:
        self.pool = pool
        self.mode = mode
        self.acquire_timeout = acquire_timeout
        self.cache: BoundedCache[StoredQuery] = BoundedCache(CACHE_SIZE)

    async def lookup(self, query_hash: str) -> StoredQuery | None:
        cached = self.cache.get(query_hash)
        if cached is not None and (cached.allow_listed or self.mode != "allowlist"):
            return cached
        try:
            row = await db.fetch_persisted_query(self.pool, query_hash, self.acquire_timeout)
        except (asyncpg.PostgresError, *UNAVAILABLE) as error:
            raise errors.unavailable() from error
        if row is None:
            return None
        stored = StoredQuery(row["query"], row["allow_listed"])
        self._remember(query_hash, stored)
        return stored

    async def register(self, query_hash: str, query: str) -> None:
        if query_hash in self.cache:
            return
        await db.register_persisted_query(self.pool, query_hash, query, self.acquire_timeout)
        self._remember(query_hash, StoredQuery(query, False))

    def _remember(self, query_hash: str, stored: StoredQuery) -> None:
        self.cache.put(query_hash, stored)


def not_allowed() -> AppError:
    return AppError(PERSISTED_QUERY_NOT_ALLOWED,
                    "This operation is not on the allow-list of this deployment")


def requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The sha256Hash of a well-formed extensions.persistedQuery, None when there is none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    field = "extensions.persistedQuery"
    if not isinstance(persisted, dict):
        raise errors.invalid(field, "persistedQuery must be an object")
    if persisted.get("version") != 1:
        raise errors.invalid(field + ".version", "Only persisted query version 1 is supported")
    query_hash = persisted.get("sha256Hash")
    if not isinstance(query_hash, str) or not _SHA256_HEX.match(query_hash.lower()):
        raise errors.invalid(field + ".sha256Hash", "sha256Hash must be 64 hexadecimal digits")
    return query_hash.lower()


class PersistedQueries(SchemaExtension):
    """Turns a hash into its query before parsing; holds the allow-list before validation;
    registers a new APQ query once it has validated."""

    def __init__(self, store: PersistedQueryStore) -> None:
        self.store = store
        self.query_hash: str | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        self.query_hash = requested_hash(ctx.operation_extensions)
        if self.query_hash is not None and not ctx.query:
            ctx.query = await self._stored_query(self.query_hash)
        yield

    async def _stored_query(self, query_hash: str) -> str:
        if self.store.mode == "off":
            raise AppError(PERSISTED_QUERY_NOT_SUPPORTED, NOT_SUPPORTED_MESSAGE)
        stored = await self.store.lookup(query_hash)
        if stored is None:
            raise AppError(PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE)
        if self.store.mode == "allowlist" and not stored.allow_listed:
            raise not_allowed()
        return stored.query

    async def on_validate(self) -> AsyncIterator[None]:
        # Refusals here become pre-execution errors, which every transport (HTTP, WebSocket)
        # answers in its own way; the query text is known by now, however it arrived.
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.query:
            try:
                refused = await self._refusal(ctx.query)
            except AppError as error:
                refused = error
            if refused is not None:
                ctx.pre_execution_errors = [GraphQLError(refused.message, original_error=refused)]
        yield

    async def _refusal(self, query: str) -> AppError | None:
        query_hash = self.query_hash
        if query_hash is not None and self.store.mode != "off" and sha256_hex(query) != query_hash:
            return errors.invalid("extensions.persistedQuery.sha256Hash",
                                  "provided sha does not match query")
        if self.store.mode == "allowlist":
            stored = await self.store.lookup(query_hash or sha256_hex(query))
            if stored is None or not stored.allow_listed:
                return not_allowed()
        return None

    async def on_execute(self) -> AsyncIterator[None]:
        # Reached only by a document that parsed, validated and stayed within the limits.
        ctx = self.execution_context
        if (self.query_hash is not None and self.store.mode == "apq" and ctx.query
                and isinstance(ctx.context, RequestContext) and ctx.context.claims is not None):
            # Only callers who authenticated add rows; an anonymous client's query still runs,
            # it is just not remembered.
            try:
                await self.store.register(self.query_hash, ctx.query)
            except (asyncpg.PostgresError, *UNAVAILABLE):
                log.warning("could not register persisted query %s", self.query_hash,
                            exc_info=True)
        yield


# -- the operator's allow-list ----------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    name: str | None
    text: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.text)


def _spread_names(node: Any) -> set[str]:
    names: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names.add(spread.name.value)

    visit(node, Spreads())
    return names


def operations_of(source: str, schema: GraphQLSchema) -> list[Operation]:
    """Each operation of a .graphql file, printed with the fragments it uses: the exact text a
    client sends (or whose hash it sends). Raises ValueError if the file does not validate."""
    try:
        document = parse(source)
    except GraphQLError as error:
        raise ValueError(str(error)) from error
    problems = validate(schema, document)
    if problems:
        raise ValueError("; ".join(p.message for p in problems))
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    found: list[Operation] = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        needed: list[str] = []
        todo = sorted(_spread_names(definition))
        while todo:
            name = todo.pop(0)
            if name not in needed:
                needed.append(name)
                todo.extend(sorted(_spread_names(fragments[name]) - set(needed)))
        text = print_ast(DocumentNode(
            definitions=(definition, *(fragments[n] for n in sorted(needed)))))
        found.append(Operation(definition.name.value if definition.name else None, text))
    if not found:
        raise ValueError("the file holds no operation")
    return found
