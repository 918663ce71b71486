"""The schema extension that answers a query from its plan when it can."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from wardgraph.context import RequestContext
from wardgraph.pipeline.cache import BoundedCache
from wardgraph.pipeline.planned.compile import NotPlannable, OperationPlan, compile_operation
from wardgraph.pipeline.planned.run import NotPlanned, Run

log = logging.getLogger(__name__)

# Per (schema, document, operation): its plan, or NOT_PLANNABLE.
NOT_PLANNABLE = "not plannable"
_plans: BoundedCache[OperationPlan | str] = BoundedCache()


class PlannedQueries(SchemaExtension):
    """List it last: it runs only for a document every extension before it let through."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        plan = self._plan() if isinstance(context, RequestContext) else None
        if plan is not None and ctx.result is None:
            assert isinstance(context, RequestContext)
            audited = len(context.audit)
            try:
                run = Run(ctx.schema._schema, plan, context, ctx.root_value, ctx.variables)
                data = await run.data()
            except Exception as reason:
                # Anything the plan cannot reproduce exactly, errors above all, is answered by
                # the general executor; what the plan read stays cached in the DataLoaders.
                del context.audit[audited:]
                log.debug("plan abandoned: %r", reason)
                if _from_the_database(reason):
                    # The transaction is aborted: the general executor starts from scratch.
                    await context.start_over()
            else:
                context.planned = True
                ctx.result = ExecutionResult(data=data)
        yield

    def _plan(self) -> OperationPlan | None:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is None or ctx.query is None:
            return None
        key = (ctx.schema, ctx.query, ctx.operation_name)
        plan = _plans.get(key)
        if plan is None:
            try:
                plan = compile_operation(ctx.schema._schema, document, ctx.operation_name)
            except NotPlannable:
                plan = NOT_PLANNABLE
            _plans.put(key, plan)
        return plan if isinstance(plan, OperationPlan) else None


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
