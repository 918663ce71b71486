"""Parsed and validated documents, remembered across requests.

Clients send the same few documents over and over; parsing one costs about half a millisecond
and validating the ward dashboard about two, on every request. A document's parse and its
validity depend on its text (and the parser's token limit) and the schema's rules only, never
on the variables, the caller or the data, so both are kept in bounded LRU caches.

Unlike strawberry's own ParserCache and ValidationCache, these step aside whenever an
extension before them has already refused the document (the query limits, the persisted-query
allow-list, the transport rules): a cached "valid" never overwrites a refusal. A document that
fails to parse or validate is not cached; strawberry parses or validates it again and reports
its errors as usual. Cached documents are shared between requests and never modified.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension

from wardgraph.pipeline.cache import CACHED_DOCUMENTS, BoundedCache


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _parsed(query: str, max_tokens: int | None) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class ParsedDocuments(SchemaExtension):
    """Parses each distinct document once (with the token limit of the query limits)."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is None and ctx.query:
            try:
                ctx.graphql_document = _parsed(ctx.query, ctx.parse_options.get("max_tokens"))
            except GraphQLError:
                pass  # strawberry parses it again and reports the error
        yield


# The keys of documents that validated without errors.
_valid: BoundedCache[bool] = BoundedCache(CACHED_DOCUMENTS)


class ValidatedDocuments(SchemaExtension):
    """Validates each distinct document once per schema and set of rules. List it after every
    extension that may refuse a document in on_validate."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        key = (ctx.schema, ctx.query, tuple(ctx.validation_rules))
        remembered = (ctx.pre_execution_errors is None and ctx.query is not None
                      and key in _valid)
        if remembered:
            ctx.pre_execution_errors = []  # strawberry skips its validation
        yield
        if not remembered and ctx.query is not None and ctx.pre_execution_errors == []:
            _valid.put(key, True)
