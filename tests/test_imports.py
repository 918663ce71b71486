"""Every module of the package imports on its own: an import cycle shows up as a module that
fails when it is the first one imported ("partially initialized module")."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import wardgraph

# Run by alembic, which provides the migration context it reads at import.
NOT_IMPORTABLE_ALONE = {"wardgraph.migrations.env"}

# One fresh interpreter loads the third-party libraries, never wardgraph, then forks a child per
# module: each child starts with no wardgraph module loaded, as a fresh interpreter would, for a
# few milliseconds instead of a second.
PROBE = r"""
import importlib, json, os, sys, traceback
import alembic.op, argon2, asyncpg, graphql, jwt, orjson, prometheus_client, psycopg  # noqa
import sqlalchemy, starlette.applications, strawberry.asgi, strawberry.extensions  # noqa
import uvicorn  # noqa
assert not any(name.startswith("wardgraph") for name in sys.modules)
failures, running = {}, {}

def reap():
    pid, status = os.wait()
    name, read = running.pop(pid)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read().decode()
    if status != 0:
        failures[name] = output.strip().splitlines()[-1] if output else f"status {status}"

for name in json.loads(sys.argv[1]):
    if len(running) >= 4:
        reap()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
        except BaseException:
            os.write(write, traceback.format_exc()[-2000:].encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    running[pid] = (name, read)
while running:
    reap()
print(json.dumps(failures))
"""


def package_modules() -> list[str]:
    names = [wardgraph.__name__]
    names += [m.name for m in pkgutil.walk_packages(wardgraph.__path__, "wardgraph.")]
    return sorted(set(names) - NOT_IMPORTABLE_ALONE)


def test_the_package_has_the_modules_this_test_walks() -> None:
    modules = package_modules()
    assert {"wardgraph.resolvers.admissions", "wardgraph.schema.root",
            "wardgraph.server.app", "wardgraph.ops.cli"} <= set(modules)
    assert len(modules) > 80


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(package_modules())],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}


# The request path, outermost first; a module imports only from layers below its own.
LAYERS: dict[str, int] = {
    "ops": 8, "server": 7, "pipeline": 6, "schema": 6, "resolvers": 5,
    "auth.authenticate": 4, "context": 3, "db": 2, "migrations": 2, "auth.tokens": 2,
    "auth.claims": 1, "ids": 1, "paging": 2, "cursors": 1, "input_rules": 1, "news2": 1,
    "policies": 1,
    "config": 0, "errors": 0,
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[1] == "auth" and len(parts) > 2:
        return "auth." + parts[2]
    return parts[1]


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wardgraph"):
            # `from wardgraph.auth import tokens` names wardgraph.auth.tokens.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("wardgraph.")}
    return found


def test_imports_run_one_way_from_the_cli_down_to_the_database() -> None:
    package = Path(wardgraph.__file__).parent
    upward = []
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts)
        if len(parts) < 3 and parts[-1] == "__init__":
            continue
        for target in imported_modules(path):
            source_layer, target_layer = layer_of(module), layer_of(target)
            if source_layer == target_layer:
                continue
            if LAYERS[source_layer] <= LAYERS[target_layer]:
                upward.append(f"{module} -> {target}")
    assert upward == []
