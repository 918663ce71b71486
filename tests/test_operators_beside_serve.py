"""The operator's commands beside a running `wardgraph serve` on the same data dir (the
embedded server): each leaves the API serving, whoever started the database, and SIGTERM
leaves no PostgreSQL behind. As this process's user, and as an ordinary user where one can
be made."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.product import Operator, Serve, alive, can_make_users

pytestmark = pytest.mark.slow

ALLOW_LISTED = "query OperatorViewer { viewer { role } }\n"
OPERATORS = ["current", *(["ordinary-user"] if can_make_users() else [])]


@dataclass
class Running:
    operator: Operator
    serve: Serve
    token: str  # an ADMIN's, made with the CLI itself


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _still_serving(running: Running) -> None:
    assert running.serve.readyz() == 200
    body = running.serve.viewer(running.token)
    assert body == {"data": {"viewer": {"role": "ADMIN", "tenant": {"slug": "ops"}}}}, body


def _make_operator(kind: str) -> Operator:
    return Operator.current() if kind == "current" else Operator.ordinary_user()


@pytest.fixture(scope="module", params=OPERATORS)
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    operator = _make_operator(request.param)
    serve = operator.serve()
    try:
        serve.wait_ready()
        _ok(operator.run("tenant", "create", "ops", "--name", "Operations"))
        _ok(operator.run("user", "create", "--tenant", "ops", "--email", "admin@ops.example",
                         "--role", "admin"))
        token = _ok(operator.run("token", "issue", "--tenant", "ops", "--email",
                                 "admin@ops.example")).strip()
        yield Running(operator, serve, token)
    finally:
        serve.terminate()
        operator.remove()


def _allow_list_file(operator: Operator) -> Path:
    path = operator.folder / "operations.graphql"
    path.write_text(ALLOW_LISTED)
    path.chmod(0o644)
    return path


COMMANDS = [
    pytest.param(["tenant", "create", "beside", "--name", "Beside"], id="tenant-create"),
    pytest.param(["user", "create", "--tenant", "ops", "--email", "nurse@ops.example",
                  "--role", "nurse"], id="user-create"),
    pytest.param(["token", "issue", "--tenant", "ops", "--email", "admin@ops.example"],
                 id="token-issue"),
    pytest.param(["migrate"], id="migrate"),
    pytest.param(["seed-demo"], id="seed-demo"),
    pytest.param(["policies", "--check"], id="policies"),
    pytest.param(["audit", "verify"], id="audit-verify"),
    pytest.param(["operations", "add", "{allow_list}"], id="operations-add"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_operator_command_beside_serve_leaves_the_api_ready(
    running: Running, command: list[str]
) -> None:
    args = [str(_allow_list_file(running.operator)) if arg == "{allow_list}" else arg
            for arg in command]
    _ok(running.operator.run(*args))
    _still_serving(running)


def test_two_commands_at_once_beside_serve_leave_the_api_ready(running: Running) -> None:
    first = running.operator.start("tenant", "create", "twin-a", "--name", "A")
    second = running.operator.start("audit", "verify")
    for process in (first, second):
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
    _still_serving(running)


@pytest.mark.parametrize("kind", OPERATORS)
def test_two_commands_at_once_without_serve_both_succeed_and_leave_no_server(
    kind: str,
) -> None:
    # Both start together on a new data dir: one makes the cluster, the other waits for it;
    # whichever finishes first must not stop the server the other is still using.
    operator = _make_operator(kind)
    try:
        first = operator.start("tenant", "create", "pair-a", "--name", "A")
        second = operator.start("tenant", "create", "pair-b", "--name", "B")
        for process in (first, second):
            _, stderr = process.communicate(timeout=180)
            assert process.returncode == 0, stderr
            assert "Traceback" not in stderr
        assert operator.postmaster_pid() is None
    finally:
        operator.remove()


@pytest.mark.parametrize("kind", OPERATORS)
def test_serve_started_while_a_command_runs_keeps_serving_and_sigterm_stops_postgres(
    kind: str,
) -> None:
    operator = _make_operator(kind)
    try:
        # On a new data dir the command makes the cluster and migrates it: serve starts
        # meanwhile, joins that server, and must outlive the command that started it.
        command = operator.start("tenant", "create", "ops", "--name", "Operations")
        time.sleep(0.5)
        serve = operator.serve()
        try:
            _, stderr = command.communicate(timeout=180)
            assert command.returncode == 0, stderr
            serve.wait_ready()
            _ok(operator.run("user", "create", "--tenant", "ops", "--email",
                             "admin@ops.example", "--role", "admin"))
            token = _ok(operator.run("token", "issue", "--tenant", "ops", "--email",
                                     "admin@ops.example")).strip()
            _still_serving(Running(operator, serve, token))
            postmaster = operator.postmaster_pid()
            assert postmaster is not None and alive(postmaster)
        finally:
            code = serve.terminate()
        assert code == 0
        assert not alive(postmaster)
        assert operator.postmaster_pid() is None
    finally:
        operator.remove()


def test_sigkilled_serve_does_not_pin_the_server() -> None:
    # The kernel drops a killed process's lease: the next process to leave stops the server.
    operator = Operator.current()
    try:
        _ok(operator.run("tenant", "create", "ops", "--name", "Operations"))
        serve = operator.serve()
        serve.wait_ready()
        serve.process.send_signal(signal.SIGKILL)
        serve.process.wait(timeout=30)
        postmaster = operator.postmaster_pid()
        assert postmaster is not None and alive(postmaster)  # SIGKILL cannot stop it
        _ok(operator.run("audit", "verify"))
        assert not alive(postmaster)
    finally:
        operator.remove()
