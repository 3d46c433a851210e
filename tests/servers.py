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
