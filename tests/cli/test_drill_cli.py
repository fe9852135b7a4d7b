"""`patchorch drill`'s terminal report and exit statuses, from a hand-built drill report."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from patchorch.cli._drill_report import drill_exit, print_drill
from patchorch.domain.drill import DrillBlocker, DrillChange, DrillReport, DrillStage

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _report(**changes: object) -> DrillReport:
    report = DrillReport(
        run="20261207-080000-abcd",
        mode="regular",
        state="completed",
        reason="3 of 4 host(s) patched or up to date",
        started_at=T0,
        targets=4,
        prepare_seconds=12.4,
        stages=(DrillStage(name="canary", reached_at=T0, reached_after_seconds=13, projected_after_seconds=12.4),),
        changes=(
            DrillChange(
                host="mx1",
                stage="canary",
                status="patched",
                versions_before={"acme-mta": "1.0-1+deb12u1~really-long-version-string"},
                versions_after={"acme-mta": "1.0-2+deb12u1~really-long-version-string"},
            ),
        ),
        blockers=(
            DrillBlocker(
                host="relay1",
                owner="relay-team <relay@example.org>",
                phase="prepare",
                status="failed",
                step="precheck",
                message="only 10 MiB free on /var, need 256 MiB",
            ),
        ),
        waits_shortened=(),
        approvals_skipped=(),
        projected_seconds=95.0,
        duration_basis={"mx1": "drill", "relay1": "drill-median"},
    )
    return report.model_copy(update=changes)


def _printed(report: DrillReport) -> str:
    stream = io.StringIO()
    print_drill(report, out=Console(file=stream, width=80, color_system=None))
    return stream.getvalue()


def test_drill_report_names_each_blocker_with_its_owner_within_80_columns() -> None:
    """The blocker's host, step, owner and message are shown, whole versions included, no line over 80 columns."""
    text = _printed(_report())
    assert all(len(line) <= 80 for line in text.splitlines())
    flat = " ".join(text.split())
    assert "relay1 failed in prepare at precheck owner relay-team <relay@example.org>" in flat
    assert "1.0-1+deb12u1~really-long-version-string -> 1.0-2+deb12u1~really-long-version-string" in flat
    assert "projected real rollout: +0:01:35" in flat


def test_drill_exit_status_says_blockers_approval_or_clean() -> None:
    """1 with blockers, 3 while an approval is awaited, 0 for a clean completed drill."""
    assert drill_exit(_report()) == 1
    assert drill_exit(_report(state="awaiting-approval")) == 3
    assert drill_exit(_report(blockers=())) == 0
