"""What `advisories sync` costs over HTTPS on 127.0.0.1: a first sync of N signed CSAF documents, a second sync with
nothing new (one 304) and one after a single document changed; writes bench/results/advisory_sync.json.

    PYTHONPATH=. .venv/bin/python bench/advisory_sync.py [--documents 200] [--repeat 3]

The provider is the tests' (tests/advisories/sync/provider.py): a test CA, a threaded TLS server, changes.csv,
.sha512 files and detached signatures made by Sequoia. Requests are counted from the server's log.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patchorch.clock import SystemClock
from patchorch.orchestrator.advisory_sync import AdvisorySync
from patchorch.sources.feeds import CsafSource, HttpFetcher
from patchorch.store.advisories import AdvisoryStore
from patchorch.store.runs import create_store_engine
from patchorch.store.sync import SyncStore
from tests.advisories.sync.provider import AdvisoryServer, CsafProvider, TestCA, csaf_document, encoded

RESULTS = Path(__file__).with_name("results") / "advisory_sync.json"


def one_round(documents: int, scratch: Path, ca: TestCA) -> dict[str, Any]:
    """First, unchanged and one-changed syncs against a fresh provider and a fresh SQLite store."""
    with AdvisoryServer(ca) as server:
        provider = CsafProvider(server)
        for number in range(documents):
            tracking = f"WID-SEC-W-2026-{number:04d}"
            provider.publish(f"{tracking.lower()}.json", encoded(csaf_document(tracking)), "2026-11-20T10:00:00Z")
        # The CLI's engine: WAL, synchronous=FULL, BEGIN IMMEDIATE.
        engine = create_store_engine(f"sqlite:///{scratch / f'store-{time.monotonic_ns()}.db'}")
        advisories, state = AdvisoryStore(engine), SyncStore(engine)
        advisories.create_tables()
        state.create_tables()
        source = CsafSource(type="csaf", name="bench", url=provider.metadata_url)
        sync = AdvisorySync(
            advisories=advisories,
            state=state,
            fetcher_for=lambda _spec: HttpFetcher(ca_file=ca.ca_file),
            clock=SystemClock(),
        )
        timings: dict[str, Any] = {}
        for phase in ("first", "unchanged", "one_changed"):
            if phase == "one_changed":
                provider.publish(
                    "wid-sec-w-2026-0000.json",
                    encoded(csaf_document("WID-SEC-W-2026-0000", version=2)),
                    "2026-11-21T10:00:00Z",
                )
            server.clear_log()
            started = time.perf_counter()
            report = sync.run([source])
            elapsed = time.perf_counter() - started
            assert report.status == "ok", report
            timings[phase] = {"seconds": round(elapsed, 3), "requests": len(server.log)}
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sync-bench-") as directory:
        scratch = Path(directory)
        ca = TestCA(scratch / "tls")
        rounds = [one_round(args.documents, scratch, ca) for _ in range(args.repeat)]
    summary = {
        phase: {
            "median_seconds": statistics.median(r[phase]["seconds"] for r in rounds),
            "requests": rounds[0][phase]["requests"],
        }
        for phase in ("first", "unchanged", "one_changed")
    }
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "documents": args.documents,
        "repeat": args.repeat,
        "summary": summary,
        "rounds": rounds,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
