"""docs/policies.md is generated from the live matrix of a freshly migrated database and must be
current: every role and every table explained, and the committed text what the code prints."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.harness import DatabaseUnderTest
from wardgraph.ops.policy_tools.connection import AuditError, connect
from wardgraph.ops.policy_tools.docs import ROLE_SENTENCES, header_sentence, render_markdown
from wardgraph.ops.policy_tools.matrix import Matrix, fetch_matrix

DOCS = Path(__file__).resolve().parent.parent / "docs" / "policies.md"


@pytest.fixture(scope="module")
async def matrix(database: DatabaseUnderTest) -> Matrix:
    connection = await connect(database.admin_url)
    try:
        return await fetch_matrix(connection)
    finally:
        await connection.close()


async def test_committed_docs_match_the_freshly_migrated_database(matrix: Matrix) -> None:
    assert DOCS.read_text("utf-8") == render_markdown(matrix), (
        "docs/policies.md is stale: run `wardgraph policies --format markdown > "
        "docs/policies.md` against a freshly migrated database")


async def test_docs_explain_every_role_in_one_sentence(matrix: Matrix) -> None:
    text = render_markdown(matrix)
    for role in matrix.roles():
        [line] = [line for line in text.splitlines() if line.startswith(f"- `{role}`: ")]
        assert line.count(". ") == 0 and line.endswith(".")


async def test_docs_give_every_table_the_sentence_of_its_policy_file(matrix: Matrix) -> None:
    sections = render_markdown(matrix).split("\n### ")[1:]
    titles = [section.splitlines()[0] for section in sections]
    assert titles == matrix.tables()
    assert [s for s in sections if "(`wardgraph/policies/" not in s.splitlines()[2]] == []


async def test_docs_refuse_a_role_without_a_sentence(matrix: Matrix) -> None:
    policies = [replace(matrix.policies[0], roles=["wg_newcomer"]), *matrix.policies[1:]]
    with pytest.raises(AuditError, match="wg_newcomer"):
        render_markdown(Matrix(matrix.rows, policies))
    assert "wg_newcomer" not in ROLE_SENTENCES


@pytest.mark.parametrize(("header", "sentence"), [
    pytest.param("-- app.wards: wards and their daily bed rate.\nalter table x;",
                 "app.wards: wards and their daily bed rate.", id="one-line"),
    pytest.param("-- app.a and app.b: first part\n-- goes on. Second sentence.\n",
                 "app.a and app.b: first part goes on.", id="sentence-over-two-lines"),
    pytest.param("alter table x;\n-- not a header\n", "", id="no-header"),
])
def test_a_table_sentence_is_the_first_sentence_of_its_file_header(
    header: str, sentence: str,
) -> None:
    assert header_sentence(header) == sentence
