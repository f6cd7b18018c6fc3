"""A real `labis serve` for tests that need one: a free loopback port, the process, its URL."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    env: dict[str, str], ready: str = "/version", stdout: int | IO[bytes] = subprocess.PIPE
) -> tuple[subprocess.Popen[str], str]:
    """`python -m labis_olap.cli serve` on a free port, once `ready` answers (the app has started:
    model loaded, engine open); an AssertionError with its output if it stops or takes > 60 s."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "labis_olap.cli", "serve", "--port", str(port)],
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=stdout == subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + ready, timeout=5):
                return server, base
        except OSError:
            pass
        if server.poll() is not None:
            out = server.stdout.read() if server.stdout is not None else "the server stopped"
            raise AssertionError(out)
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
