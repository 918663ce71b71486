"""Whether `serve` can listen where it is told to, checked before the database starts."""

from __future__ import annotations

import socket

from wardgraph.config import ConfigError


def ensure_port_free(host: str, port: int) -> None:
    """A ConfigError naming the port when something already listens there.

    uvicorn would find out only after the database had started and migrated, and then exit
    with a log line; checking first gives the operator one clear line and starts nothing.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigError(f"cannot listen on {host}: {error.strerror}; set --host "
                          f"(WARDGRAPH_HOST) to an address of this machine") from error
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn does, so a port in TIME_WAIT after a restart does not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({error.strerror}); stop what listens "
                f"there or choose another port with --port (WARDGRAPH_PORT)") from error
