"""Running the app: `serve` for `b12plan serve`, and `start_server` / `running_server` for tests that need a
real HTTP server (browsers, schemathesis over the wire, benchmarks):

    with running_server(create_app(settings)) as server:   # 127.0.0.1, a free port
        httpx.get(server.url + "/healthz")

uvicorn's access log is off: request lines hold calendar-feed signatures and patient ids, and b12plan's
logs carry ids only (docs/web.md).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import FastAPI

__all__ = ["RunningServer", "running_server", "serve", "start_server"]


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve `app` until interrupted (Ctrl-C)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", server_header=False)


@dataclass
class RunningServer:
    """A server started by `start_server`: its base URL (`http://127.0.0.1:PORT`) and how to stop it."""

    url: str
    port: int
    _server: object
    _thread: threading.Thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True  # type: ignore[attr-defined]
        self._thread.join(timeout_s)


def start_server(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 20.0
) -> RunningServer:
    """Start `app` in a background thread on `host`:`port` (0: a free port) and wait until it answers."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    chosen = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host=host, port=chosen, access_log=False, log_level="warning", lifespan="on", server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="b12plan-test-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the test server on {host}:{chosen} did not start")
        time.sleep(0.02)
    return RunningServer(f"http://{host}:{chosen}", chosen, server, thread)


@contextmanager
def running_server(app: FastAPI, *, host: str = "127.0.0.1") -> Iterator[RunningServer]:
    """`start_server` for a `with` block: stopped when the block ends."""
    server = start_server(app, host=host)
    try:
        yield server
    finally:
        server.stop()
