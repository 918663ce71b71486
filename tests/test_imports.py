"""Every module of the package imports on its own: an import cycle shows up as a module that
fails when it is the first one imported ("partially initialized module")."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

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
