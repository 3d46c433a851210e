"""Reach the local PostgreSQL/MySQL/Redis servers, or skip (fail under CI=true)."""

from __future__ import annotations

import os
import socket

import pytest

SERVERS = {
    "postgresql": ("127.0.0.1", 5432, "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": ("127.0.0.1", 3306, "mysql+pymysql://root@127.0.0.1:3306/test"),
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379"),
}


def server_url(kind: str) -> str:
    host, port, url = SERVERS[kind]
    try:
        with socket.create_connection((host, port), timeout=1):
            return url
    except OSError as exc:
        reason = f"{kind} server not reachable at {host}:{port} ({exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI requires it")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(database: str, port: int | None = None,
                host: str | None = "127.0.0.1"):  # -> (subprocess.Popen, grpc URL)
    """``triage storage-proxy`` in front of ``database`` on a free local port, once it listens
    (``host`` None: the command's default)."""
    import subprocess
    import sys
    import time

    port = port or free_port()
    where = [] if host is None else ["--host", host]
    proxy = subprocess.Popen([sys.executable, "-m", "triage.cli", "storage-proxy", "--storage",
                              database, *where, "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proxy, f"grpc://127.0.0.1:{port}"
        except OSError:
            if proxy.poll() is not None or time.monotonic() > deadline:
                proxy.kill()
                raise AssertionError(f"the storage proxy did not start: {proxy.stderr.read()}") \
                    from None
            time.sleep(0.1)
