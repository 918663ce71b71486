"""One transaction per GraphQL operation: commit what succeeded, undo a mutation that failed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from wardgraph.context import RequestContext


class TransactionPerOperation(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, RequestContext):
            return
        result = self.execution_context.result
        failed = result is None or bool(result.errors)
        try:
            is_mutation = self.execution_context.operation_type is OperationType.MUTATION
        except RuntimeError:
            is_mutation = True
        # A mutation that raised anywhere leaves nothing behind; a query's reads are committed
        # with their audit events even when one field answered NOT_FOUND.
        await context.finish(commit=not (failed and is_mutation))
