"""Per-request limits, checked before anything executes: tokens, depth, aliases, field cost,
and the size of the request body. Each refusal is QUERY_TOO_COMPLEX with the limit it broke.

Cost model: every field costs 1, and what a field selects is paid once per item it can return.
A field with a `first` argument returns up to `first` items (the page size when absent); any
other list field counts as DEFAULT_LIST_SIZE items; the `edges` of a connection are already
paid for by the connection's `first`. Meta fields (`__typename`, `__schema`) cost 1 like any
field, since executing them is work too (a document of nothing but `__typename` spreads was
once free), but add no depth. A fragment spread twice into one selection set is paid once,
as execution collects it once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Source,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.language import Lexer, TokenKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from wardgraph import errors
from wardgraph.config import Limits
from wardgraph.context import RequestContext
from wardgraph.errors import AppError
from wardgraph.pipeline.cache import BoundedCache

# The resolvers' default page size, and what a list without `first` is assumed to return.
DEFAULT_LIST_SIZE = 20
# Validation compares every two fields that share a response path, and every two fragments
# spread into one selection set (graphql-core's OverlappingFieldsCanBeMerged): 490 copies of
# `viewer { role }`, 8 KB, took 0.6 s of CPU. These bound that work to a constant times the
# document's size; no client needs more (ten fragments that each select `id` are 45 pairs).
MAX_FIELD_PAIRS = 2000
MAX_FRAGMENTS_PER_SELECTION = 64
# Selections walked to count those pairs: a document within the cost limit has fewer.
MAX_MERGE_VISITS = 20_000
# How much more of an oversized body is read (and dropped) before answering 413.
DRAIN_BYTES = 64 * 1024


def too_complex(message: str) -> AppError:
    return AppError(errors.QUERY_TOO_COMPLEX, message)


# -- tokens --------------------------------------------------------------------------------------

def count_tokens(text: str, stop_after: int) -> int:
    """The lexical tokens of a document (as the parser counts them), up to stop_after + 1."""
    lexer = Lexer(Source(text))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
            if count > stop_after:
                break
    except GraphQLError:
        pass  # a syntax error: the parser reports it
    return count


# -- depth, aliases, cost ------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0
    # What validation compares: pairs of fields sharing a response path (fragments included),
    # and the most fragments spread into one selection set.
    repeats: int = 0
    fragments: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases,
                       self.cost + other.cost, max(self.repeats, other.repeats),
                       max(self.fragments, other.fragments))


class _Measurer:
    """Walks one operation; a fragment is measured once however often it is spread, so a
    document of nested fragments cannot make the walk itself expensive."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 variables: dict[str, Any] | None, max_page_size: int) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.max_page_size = max_page_size
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.measured: dict[str, Measure] = {}
        self.visiting: set[str] = set()
        self.read_variables = False  # whether the measure depends on the variables

    def merge_work(self, selection_set: SelectionSetNode) -> Measure:
        """What validation compares, with the fields that share a response path merged (each
        fragment once per selection, as graphql-core collects them): pairs of fields with one
        response key (`repeats`), and the most fragments that meet in one selection. Walked
        without recursion, and given up (as too much) past MAX_MERGE_VISITS selections, which
        no document within the cost limit reaches; a fragment cycle is walked only that far."""
        pairs = visits = most_fragments = 0
        pending: list[list[SelectionSetNode]] = [[selection_set]]
        while pending:
            groups: dict[str, list[SelectionSetNode | None]] = {}
            seen: set[str] = set()
            stack = pending.pop()
            while stack:
                for selection in stack.pop().selections:
                    visits += 1
                    if visits > MAX_MERGE_VISITS:
                        return Measure(repeats=MAX_FIELD_PAIRS + 1)
                    if isinstance(selection, FieldNode):
                        key = selection.alias.value if selection.alias else selection.name.value
                        groups.setdefault(key, []).append(selection.selection_set)
                    elif isinstance(selection, InlineFragmentNode):
                        stack.append(selection.selection_set)
                    elif isinstance(selection, FragmentSpreadNode):
                        name = selection.name.value
                        fragment = self.fragments.get(name)
                        if fragment is not None and name not in seen:
                            seen.add(name)
                            stack.append(fragment.selection_set)
            most_fragments = max(most_fragments, len(seen))
            for nodes in groups.values():
                pairs += len(nodes) * (len(nodes) - 1) // 2
                nested = [n for n in nodes if n is not None]
                if nested:
                    pending.append(nested)
            if pairs > MAX_FIELD_PAIRS:
                break
        return Measure(repeats=pairs, fragments=most_fragments)

    def selection_set(self, parent: GraphQLNamedType | None,
                      selection_set: SelectionSetNode | None) -> Measure:
        total = Measure()
        spread: set[str] = set()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = (self.schema.get_type(selection.type_condition.name.value)
                             if selection.type_condition else parent)
                total += self.selection_set(condition, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and (
                    selection.name.value not in spread):
                spread.add(selection.name.value)
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> Measure:
        if name in self.measured:
            return self.measured[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return Measure()  # unknown or cyclic: validation reports it
        self.visiting.add(name)
        measure = self.selection_set(
            self.schema.get_type(definition.type_condition.name.value), definition.selection_set)
        self.visiting.discard(name)
        self.measured[name] = measure
        return measure

    def field(self, parent: GraphQLNamedType | None, node: FieldNode) -> Measure:
        alias = 1 if node.alias else 0
        name = node.name.value
        if name.startswith("__"):
            inner = self.selection_set(None, node.selection_set)
            return Measure(0, alias + inner.aliases, 1 + inner.cost)
        definition = (parent.fields.get(name)
                      if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None)
        child_type = get_named_type(definition.type) if definition else None
        inner = self.selection_set(child_type, node.selection_set)
        items = self.items(parent, definition, node)
        return Measure(1 + inner.depth, alias + inner.aliases, 1 + items * inner.cost)

    def items(self, parent: GraphQLNamedType | None, definition: Any, node: FieldNode) -> int:
        """How many times the field's selection is paid for."""
        if definition is None or (parent is not None and parent.name.endswith("Connection")):
            return 1
        if "first" in definition.args:
            first = self.argument(node, "first")
            if first is None:
                return DEFAULT_LIST_SIZE
            # A larger `first` is refused by the resolver (VALIDATION_FAILED on `first`).
            return max(0, min(first, self.max_page_size))
        if is_list_type(get_nullable_type(definition.type)):
            return DEFAULT_LIST_SIZE
        return 1

    def argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                self.read_variables = True
                given = self.variables.get(value.name.value)
                return given if isinstance(given, int) and not isinstance(given, bool) else None
        return None


def selected_operation(document: DocumentNode,
                       operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def measure(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None = None,
            variables: dict[str, Any] | None = None, max_page_size: int = 100) -> Measure:
    """Depth, aliases and cost of the operation that would run; zeros if none can be chosen."""
    return _measured(schema, document, operation_name, variables, max_page_size)[0]


def _measured(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
              variables: dict[str, Any] | None, max_page_size: int) -> tuple[Measure, bool]:
    """The measure, and whether it depends on the variables (a `first: $n`)."""
    operation = selected_operation(document, operation_name)
    if operation is None:
        return Measure(), False
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    measurer = _Measurer(schema, document, variables, max_page_size)
    found = (measurer.selection_set(root, operation.selection_set)
             + measurer.merge_work(operation.selection_set))
    return found, measurer.read_variables


# Measures of documents whose measure does not depend on their variables, by document text:
# the dashboard polled all day is measured once.
_measures: BoundedCache[Measure] = BoundedCache()


def measure_request(schema: GraphQLSchema, document: DocumentNode, query: str,
                    operation_name: str | None, variables: dict[str, Any] | None,
                    max_page_size: int) -> Measure:
    key = (schema, query, operation_name, max_page_size)
    found = _measures.get(key)
    if found is None:
        found, read_variables = _measured(schema, document, operation_name, variables,
                                          max_page_size)
        if not read_variables:
            _measures.put(key, found)
    return found


def refusal(found: Measure, limits: Limits) -> AppError | None:
    """The first limit the operation breaks, as the client will read it."""
    if found.depth > limits.max_depth:
        return too_complex(
            f"The query is {found.depth} levels deep; the limit is {limits.max_depth}")
    if found.aliases > limits.max_aliases:
        return too_complex(
            f"The query has {found.aliases} aliases; the limit is {limits.max_aliases}")
    if found.cost > limits.max_cost:
        return too_complex(
            f"The query could cost {found.cost} fields; the limit is {limits.max_cost}")
    if found.repeats > MAX_FIELD_PAIRS:
        return too_complex(
            "The query repeats the same fields too often: more than "
            f"{MAX_FIELD_PAIRS} pairs of same-named fields to compare")
    if found.fragments > MAX_FRAGMENTS_PER_SELECTION:
        return too_complex(
            f"The query spreads more than {MAX_FRAGMENTS_PER_SELECTION} fragments into one "
            "selection")
    return None


# -- the extension -------------------------------------------------------------------------------

def _limits_of(context: Any) -> Limits | None:
    return context.settings.limits if isinstance(context, RequestContext) else None


class QueryLimits(SchemaExtension):
    """Refuses a document before execution when it breaks a limit of the app's settings."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        limits = _limits_of(ctx.context)
        if limits is not None:
            # graphql-core stops parsing past this many tokens; the error is reworded below.
            ctx.parse_options["max_tokens"] = limits.max_tokens
        yield
        if (limits is not None and ctx.graphql_document is None and ctx.pre_execution_errors
                and ctx.query and count_tokens(ctx.query, limits.max_tokens) > limits.max_tokens):
            refused = too_complex(
                f"The document has more than {limits.max_tokens} tokens; the limit is "
                f"{limits.max_tokens}")
            for error in ctx.pre_execution_errors:
                error.message = refused.message
                error.original_error = refused
                error.extensions = refused.extensions

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        limits = _limits_of(ctx.context)
        if (limits is not None and ctx.graphql_document is not None
                and ctx.pre_execution_errors is None):
            found = measure_request(ctx.schema._schema, ctx.graphql_document, ctx.query or "",
                                    ctx.operation_name, ctx.variables, limits.max_page_size)
            refused = refusal(found, limits)
            if refused is not None:
                # Set before validation runs, so strawberry skips it and answers with this.
                ctx.pre_execution_errors = [GraphQLError(refused.message, original_error=refused)]
        yield


# -- the request body ----------------------------------------------------------------------------

def too_large_body(limit: int) -> bytes:
    return json.dumps({"errors": [{
        "message": f"The request body is larger than {limit} bytes",
        "extensions": {"code": errors.QUERY_TOO_COMPLEX},
    }]}).encode()


class BodySizeLimit:
    """Answers 413 (code QUERY_TOO_COMPLEX) to an HTTP request whose body is larger than the
    limit, by its Content-Length or, for a chunked body, as soon as it has sent that much.
    The body is read here and replayed, so nothing behind this sees a partial body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._drain(receive, message)
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Receive, message: Message) -> None:
        """Read (and drop) a little more of the body, so a client still sending can read the
        413 instead of a reset connection; past DRAIN_BYTES the connection is just closed."""
        drained = 0
        while message.get("more_body", False) and drained < DRAIN_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))

    async def _refuse(self, send: Send) -> None:
        body = too_large_body(self.max_bytes)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})
