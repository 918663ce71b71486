"""`wardgraph policies`: print the live matrix, or check for drift, or lint."""

from __future__ import annotations

import asyncio

from wardgraph.ops.policy_tools.check import check
from wardgraph.ops.policy_tools.connection import connect
from wardgraph.ops.policy_tools.docs import render_markdown
from wardgraph.ops.policy_tools.lint import render_findings, run_lints
from wardgraph.ops.policy_tools.matrix import fetch_matrix, render_json, render_table
from wardgraph.ops.policy_tools.reconstruct import render_sql

FORMATS = ("table", "json", "sql", "markdown")


async def render(admin_url: str, output_format: str) -> str:
    """The live matrix of the database at admin_url in one of FORMATS."""
    connection = await connect(admin_url)
    try:
        if output_format == "sql":
            return await render_sql(connection)
        matrix = await fetch_matrix(connection)
    finally:
        await connection.close()
    if output_format == "json":
        return render_json(matrix)
    if output_format == "markdown":
        return render_markdown(matrix)
    return render_table(matrix)


async def lint(admin_url: str) -> tuple[bool, str]:
    connection = await connect(admin_url)
    try:
        findings = await run_lints(connection)
    finally:
        await connection.close()
    return not findings, render_findings(findings)


async def audit(admin_url: str, *, output_format: str, drift: bool, lints: bool) -> int:
    """Print what was asked for; 1 when the check or the lints found something, else 0."""
    if not (drift or lints):
        print(await render(admin_url, output_format), end="")
        return 0
    clean = True
    if drift:
        result = await check(admin_url)
        print(result.render())
        clean = clean and result.clean
    if lints:
        passed, report = await lint(admin_url)
        print(report)
        clean = clean and passed
    return 0 if clean else 1


def run(admin_url: str, *, output_format: str = "table", drift: bool = False,
        lints: bool = False) -> int:
    return asyncio.run(audit(admin_url, output_format=output_format, drift=drift, lints=lints))
