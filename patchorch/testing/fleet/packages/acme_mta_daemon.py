#!/usr/bin/python3
"""acme-mta's daemon on a fleet host: GET /health answers 200 with the installed acme-mta version, read live from dpkg.

It refuses to start when a filter needs an ABI it does not provide (what upgrading acme-broken to 1.0-2 does), and
answers 503 while the failing-health fault is set. Like a program linked to a shared library, it maps acme-tls's
library file executable and reports the version in that mapping: after an acme-tls upgrade the running daemon keeps
the replaced (deleted) file mapped until it is restarted, a stale service needrestart finds in /proc/PID/maps.
A drained host (`fleet-service drain`) says so and still answers 200: draining takes it out of service, it does not
make it unhealthy. Standard library only: it runs on the host's python3.
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAULTS = Path("/etc/fleet/faults")
FILTERS = Path("/usr/lib/acme-mta/filters")
DRAINED = Path("/var/lib/fleet/drained")
TLS_LIBRARY = Path("/usr/lib/acme-tls/libacme-tls.so.1")


def map_library(path: Path) -> mmap.mmap | None:
    """`path` mapped read-only and executable, as the dynamic linker maps a library; None when it is missing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_EXEC)
    finally:
        os.close(fd)


TLS = map_library(TLS_LIBRARY)
ABI = "abi=1"


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def installed_version() -> str:
    """The acme-mta version dpkg has installed right now."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "acme-mta"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


class HealthHandler(BaseHTTPRequestHandler):
    """Serves /health; everything else is 404."""

    def do_GET(self) -> None:
        if self.path != "/health":
            self.send_error(404)
            return
        faults = sorted(p.name for p in FAULTS.glob("*") if p.is_file()) if FAULTS.is_dir() else []
        failing = "failing-health" in faults
        body = {
            "status": "failing" if failing else "ok",
            "service": "acme-mta",
            "version": installed_version(),
            "host": _read(Path("/etc/fleet/host")),
            "boot_id": _read(Path("/run/fleet/boot_id")),
            "faults": faults,
            "drained": DRAINED.exists(),
            "tls": TLS[:].decode().strip() if TLS is not None else None,
        }
        payload = (json.dumps(body) + "\n").encode()
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # `format`: the base class names it so
        """Quiet: no access log."""


def main() -> int:
    for path in sorted(FILTERS.glob("*.filter")):
        if _read(path) != ABI:
            print(
                f"acme-mta: filter {path} needs {_read(path)}, acme-mta provides {ABI}; not starting", file=sys.stderr
            )
            return 1
    port = int(_read(Path("/etc/fleet/health_port")))
    server = ThreadingHTTPServer(("127.0.0.1", port), HealthHandler)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
