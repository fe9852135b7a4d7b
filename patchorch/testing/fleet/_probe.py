"""Probes of fleet hosts from the outside, all on 127.0.0.1 and all bounded in time."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LOOPBACK = "127.0.0.1"


def port_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` (binding it would succeed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def ssh_answers(port: int, timeout: float = 2.0) -> bool:
    """True when an SSH server on 127.0.0.1:`port` sends its identification banner."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


@dataclass(frozen=True)
class HealthAnswer:
    """What GET /health answered: the status code and the decoded JSON body (empty if not JSON)."""

    status: int
    body: dict[str, Any]
    text: str


def get_health(url: str, timeout: float = 3.0) -> HealthAnswer | None:
    """GET `url`; None when nothing answers (connection refused or timed out, or closed before an HTTP answer: a
    server still starting)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  # a fixed http:// loopback URL
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (OSError, urllib.error.URLError, http.client.HTTPException):
        return None
    text = raw.decode(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    return HealthAnswer(status, body if isinstance(body, dict) else {}, text)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; True when it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
