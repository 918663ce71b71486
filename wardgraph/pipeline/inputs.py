"""Input refused at the edge, before anything executes, by the rules of wardgraph.input_rules:
every text in the document's literals and in the variables, whatever its field, and every
Date or DateTime literal. (Date and DateTime variables are held to their range by the scalars.)

Literals in the document are checked once per document text; variables on every request.
Each refusal is VALIDATION_FAILED with `extensions.field`: the argument or input field that
holds the value (for a variable's value, the innermost input field, or the variable's name).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import dateutil.parser
from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    ObjectFieldNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    visit,
)
from strawberry.extensions import SchemaExtension

from wardgraph import errors
from wardgraph.errors import AppError
from wardgraph.input_rules import date_problem, instant_problem, text_problem
from wardgraph.pipeline.cache import BoundedCache

# Variables nested deeper than this are not any input of this schema.
MAX_VARIABLE_DEPTH = 32


# -- variables ------------------------------------------------------------------------------------

def variables_problem(variables: dict[str, Any] | None) -> AppError | None:
    """The first text in the variables (values and keys) that cannot be accepted."""
    if not variables:
        return None
    stack: list[tuple[str, Any, int]] = [(name, value, 1) for name, value in variables.items()]
    while stack:
        field, value, depth = stack.pop()
        problem = text_problem(field)
        if problem is not None:
            return errors.invalid("variables", problem)
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return errors.invalid(field, problem)
        elif isinstance(value, dict | list):
            if depth >= MAX_VARIABLE_DEPTH:
                return errors.invalid(field, "Nested too deeply")
            items = value.items() if isinstance(value, dict) else ((field, v) for v in value)
            stack.extend((key, item, depth + 1) for key, item in items)
    return None


# -- literals in the document ---------------------------------------------------------------------

class _LiteralChecks(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.names: list[str] = []
        self.problem: AppError | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, *_: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, *_: Any) -> None:
        self.names.pop()

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        field = self.names[-1] if self.names else "query"
        problem = text_problem(node.value)
        if problem is None:
            problem = _literal_range_problem(self.type_info.get_input_type(), node.value)
        if problem is not None and self.problem is None:
            self.problem = errors.invalid(field, problem)
            return self.BREAK
        return None


def _literal_range_problem(input_type: Any, text: str) -> str | None:
    named: GraphQLNamedType | None = get_named_type(input_type) if input_type else None
    if named is None or named.name not in ("Date", "DateTime"):
        return None
    try:
        if named.name == "Date":
            return date_problem(date.fromisoformat(text))
        return instant_problem(dateutil.parser.isoparse(text))
    except (ValueError, OverflowError):
        return None  # not a date at all: the scalar's own validation says so


def literals_problem(schema: GraphQLSchema, document: DocumentNode) -> AppError | None:
    type_info = TypeInfo(schema)
    checks = _LiteralChecks(type_info)
    visit(document, TypeInfoVisitor(type_info, checks))
    return checks.problem


# Per (schema, document text): the problem of its literals, or OK.
OK = "ok"
_literals: BoundedCache[AppError | str] = BoundedCache()


class CheckedInputs(SchemaExtension):
    """Refuses a document whose literals or variables hold text or dates the API does not
    accept, before validation (strawberry answers with errors set by then, and skips the
    validation); a document the limits refused already is left as it is."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None:
            key = (ctx.schema, ctx.query)
            found = _literals.get(key)
            if found is None:
                found = literals_problem(ctx.schema._schema, ctx.graphql_document) or OK
                if ctx.query is not None:
                    _literals.put(key, found)
            problem = found if isinstance(found, AppError) else variables_problem(ctx.variables)
            if problem is not None:
                ctx.pre_execution_errors = [GraphQLError(problem.message,
                                                         original_error=problem)]
        yield
