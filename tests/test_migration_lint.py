"""Every migration passes squawk, the PostgreSQL migration linter: no statement that takes a
long exclusive lock unless its file says why and how to run it (a `squawk-ignore` comment
beside the statement). Rules left out for all files are listed, with reasons, in
wardgraph/migrations/squawk.toml."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from wardgraph.migrations.runner import DEFAULT_LOCK_TIMEOUT_SECONDS, lock_timeout_sql

MIGRATIONS = Path(str(resources.files("wardgraph").joinpath("migrations")))
SQL_FILES = sorted((MIGRATIONS / "sql").glob("*.sql"))


def squawk() -> str:
    """squawk-cli, a dev dependency: installed beside this Python by `make test`."""
    found = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which(
        "squawk")
    assert found, "squawk is missing: pip install -e '.[dev]' (squawk-cli)"
    return found


def test_every_migration_file_is_linted() -> None:
    names = {path.name for path in SQL_FILES}
    assert "0005_patient_name_keys.up.sql" in names and len(names) >= 12
    assert all(path.name.endswith((".up.sql", ".down.sql")) for path in SQL_FILES)


def lint(path: Path, text: str) -> tuple[list[str], int]:
    """squawk's findings ("rule: description (line N)") and exit status for one file, linted
    as it runs: after the runner's lock_timeout."""
    result = subprocess.run(
        [squawk(), "--config", str(MIGRATIONS / "squawk.toml"), "--reporter", "gitlab",
         "--stdin-filepath", path.name],
        input=lock_timeout_sql(DEFAULT_LOCK_TIMEOUT_SECONDS) + text, capture_output=True,
        text=True, timeout=60, check=False)
    issues = json.loads(result.stdout or "[]")
    return ([f"{i['check_name']}: {i['description']} (line {i['location']['lines']['begin']})"
             for i in issues], result.returncode)


def test_squawk_flags_the_patients_rewrite_when_its_comment_is_gone() -> None:
    path = MIGRATIONS / "sql" / "0005_patient_name_keys.up.sql"
    text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                     if "squawk-ignore" not in line)
    issues, status = lint(path, text)
    assert status != 0
    assert any(issue.startswith("adding-field-with-default") for issue in issues), issues


@pytest.mark.parametrize("path", SQL_FILES, ids=[path.name for path in SQL_FILES])
def test_migration_passes_squawk(path: Path) -> None:
    issues, status = lint(path, path.read_text(encoding="utf-8"))
    assert issues == []
    assert status == 0
