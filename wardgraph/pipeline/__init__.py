"""What runs around a GraphQL operation's execution: strawberry schema extensions, in the one
ordered list below.

Strawberry enters each hook (on_operation, on_parse, on_validate, on_execute) in list order and
leaves it in reverse; a hook that sets ``pre_execution_errors`` makes strawberry skip validation
and execution and answer with those errors. Hence the order:

1. DisableIntrospection, in production: nothing else need run for a refused introspection.
2. PersistedQueries: turns a persisted-query hash into its text when the operation starts, so
   everything after it sees a query, and holds the allow-list before anything measures it.
3. The server's observers (naming the operation for logs and metrics; subscriptions over
   WebSocket only): they need the text, and label a document even when a later step refuses it.
4. QueryLimits: refuses a document too long, deep, wide or costly before validation, whose cost
   grows with the document.
5. TransactionPerOperation: commits the request's transaction, or rolls back a failed mutation,
   when the operation ends, whichever step below answered it.
6. CheckedInputs: refuses NUL bytes, lone surrogates and out-of-range dates in the document's
   literals and the variables (VALIDATION_FAILED with the field) before anything reads them.
7. ParsedDocuments, ValidatedDocuments, PlannedQueries, last: they answer from what they
   remember (a parse, a validation, a compiled plan) only for a document that every step above
   let through, so none of them can skip a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from strawberry.extensions import DisableIntrospection

from wardgraph.pipeline.documents import ParsedDocuments, ValidatedDocuments
from wardgraph.pipeline.inputs import CheckedInputs
from wardgraph.pipeline.limits import QueryLimits
from wardgraph.pipeline.persisted import PersistedQueries, PersistedQueryStore
from wardgraph.pipeline.planned import PlannedQueries
from wardgraph.pipeline.transaction import TransactionPerOperation


def ordered_extensions(persisted: PersistedQueryStore, *, production: bool,
                       observers: Sequence[Any] = ()) -> list[Any]:
    """The schema's extensions in the order above; `observers` are the server's (step 3)."""
    return [
        *([DisableIntrospection] if production else []),
        partial(PersistedQueries, persisted),
        *observers,
        QueryLimits,
        TransactionPerOperation,
        CheckedInputs,
        ParsedDocuments,
        ValidatedDocuments,
        PlannedQueries,
    ]
