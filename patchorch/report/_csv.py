"""The compliance report as CSV files, one per section, for spreadsheets and ticket systems."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from patchorch.domain.compliance import ComplianceReport

# A cell a spreadsheet would read as a formula (CSV injection): prefixed with a quote so it stays text.
_REHEARSAL_COLUMNS = (
    "run",
    "created_at",
    "created_by",
    "mode",
    "state",
    "hosts",
    "started_at",
    "finished_at",
    "duration_seconds",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([_cell(v) for v in row] for row in rows)
    return path


def write_csv(report: ComplianceReport, directory: Path) -> list[Path]:
    """Write the report's sections as CSV files into `directory` (created if needed); the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    data = report.model_dump(mode="json")
    return [
        _write(
            directory / "sla.csv",
            ("risk_class", "host", "run", "patched_at", "due", "late"),
            (
                (h["risk_class"], h["host"], h["run"], h["patched_at"], h["due"], h["late"])
                for c in data["sla"]
                for h in c["hosts"]
            ),
        ),
        _write(
            directory / "sla_classes.csv",
            ("risk_class", "within", "late", "overdue_unpatched"),
            ((c["risk_class"], c["within"], c["late"], c["overdue_unpatched"]) for c in data["sla"]),
        ),
        _write(
            directory / "time_to_patch.csv",
            (
                "advisory",
                "title",
                "published",
                "imported_at",
                "targets",
                "patched",
                "last_patched_at",
                "hours_from_publication",
                "hours_from_import",
                "complete",
                "runs",
            ),
            (
                (
                    a["advisory"],
                    a["title"],
                    a["published"],
                    a["imported_at"],
                    a["targets"],
                    a["patched"],
                    a["last_patched_at"],
                    a["hours_from_publication"],
                    a["hours_from_import"],
                    a["complete"],
                    " ".join(a["runs"]),
                )
                for a in data["time_to_patch"]
            ),
        ),
        _write(
            directory / "standing.csv",
            ("host", "status", "owner_team", "owner_contact", "due", "evidence", "run", "as_of"),
            (
                (
                    s["host"],
                    s["status"],
                    s["owner_team"],
                    s["owner_contact"],
                    s["due"],
                    s["evidence"],
                    s["run"],
                    s["as_of"],
                )
                for s in data["standing"]
            ),
        ),
        _write(
            directory / "decommissioned_answering.csv",
            ("host", "owner_team", "owner_contact", "last_answered", "evidence"),
            (
                (d["host"], d["owner_team"], d["owner_contact"], d["last_answered"], d["evidence"])
                for d in data["decommissioned_answering"]
            ),
        ),
        _write(
            directory / "approvals.csv",
            ("run", "stage", "approver", "at", "comment"),
            ((a["run"], a["stage"], a["approver"], a["at"], a["comment"]) for a in data["approvals"]),
        ),
        *(
            _write(
                directory / f"{section}.csv",
                _REHEARSAL_COLUMNS,
                (tuple(r[column] for column in _REHEARSAL_COLUMNS) for r in data[section]),
            )
            for section in ("rehearsals", "drills")
        ),
        _write(
            directory / "audit.csv",
            ("intact", "records", "problem", "first_bad_record"),
            [
                (
                    data["audit"]["intact"],
                    data["audit"]["records"],
                    data["audit"]["problem"],
                    data["audit"]["first_bad_record"],
                )
            ],
        ),
    ]
