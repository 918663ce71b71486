"""The schema extension that answers a query from its plan when it can, and says why when it
cannot: the request's context carries the reason (`plan_fallback`), which /metrics counts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
from graphql import DocumentNode, ExecutionResult, OperationType
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from wardgraph.context import RequestContext
from wardgraph.pipeline.cache import BoundedCache
from wardgraph.pipeline.planned.compile import NotPlannable, OperationPlan, compile_operation
from wardgraph.pipeline.planned.run import NotPlanned, Run

log = logging.getLogger(__name__)

# Per (schema, document, operation): its plan, or why there is none (a fallback's reason, or
# OUT_OF_SCOPE for what plans are not meant for: mutations and subscriptions).
OUT_OF_SCOPE = ""
_plans: BoundedCache[OperationPlan | str] = BoundedCache()

RESOLVE_HOOK = "an extension hooks resolve"


class PlannedQueries(SchemaExtension):
    """List it last: it runs only for a document every extension before it let through."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if not isinstance(context, RequestContext) or ctx.result is not None:
            yield
            return
        plan = self._plan()
        if isinstance(plan, str):
            context.plan_fallback = plan or None
            yield
            return
        audited = len(context.audit)
        try:
            run = Run(ctx.schema._schema, plan, context, ctx.root_value, ctx.variables)
            data = await run.data()
        except Exception as reason:
            # Anything the plan cannot reproduce exactly, errors above all, is answered by the
            # general executor, as if the plan had never run: none of its audit events, none of
            # its cached reads.
            del context.audit[audited:]
            log.debug("plan abandoned: %r", reason)
            context.plan_fallback = _abandoned(reason)
            if _from_the_database(reason):
                # The transaction is aborted: the general executor starts from scratch.
                await context.start_over()
            else:
                context.forget_reads()
        else:
            context.planned = True
            ctx.result = ExecutionResult(data=data)
        yield

    def _plan(self) -> OperationPlan | str:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is None or ctx.query is None:
            return OUT_OF_SCOPE
        key = (ctx.schema, ctx.query, ctx.operation_name)
        plan = _plans.get(key)
        if plan is None:
            plan = _compile(ctx.schema, document, ctx.operation_name)
            _plans.put(key, plan)
        return plan


def _compile(schema: Any, document: DocumentNode, operation_name: str | None,
             ) -> OperationPlan | str:
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return OUT_OF_SCOPE
    # A plan calls resolvers directly, so an extension that wraps each field's resolution
    # (SchemaExtension.resolve, or the directives extension strawberry adds for schema
    # directives) would be skipped: no plan for such a schema, whatever the document.
    if hooks_resolve(schema):
        return RESOLVE_HOOK
    try:
        return compile_operation(schema._schema, document, operation_name)
    except NotPlannable as reason:
        return f"not compiled: {reason}"


def hooks_resolve(schema: Any) -> bool:
    """Whether any of the schema's extensions implements `resolve`."""
    if getattr(schema, "directives", None):
        return True
    for extension in schema.extensions:
        while isinstance(extension, partial):
            extension = extension.func
        kind = extension if isinstance(extension, type) else type(extension)
        if not issubclass(kind, SchemaExtension):
            return True  # a factory: what it makes cannot be known before it runs
        if kind.resolve is not SchemaExtension.resolve:
            return True
    return False


def _abandoned(reason: BaseException) -> str:
    """A bounded label: the plan's own reasons as they are, any other error by its kind."""
    if isinstance(reason, NotPlanned):
        return f"abandoned: {reason}"
    if _from_the_database(reason):
        return "abandoned: database error"
    return "abandoned: a resolver raised"


def _from_the_database(error: BaseException | None) -> bool:
    """Whether a database error caused this one (resolvers re-raise some as AppError)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


__all__ = ["NotPlanned", "PlannedQueries"]
