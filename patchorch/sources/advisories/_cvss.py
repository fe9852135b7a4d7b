"""CVSS v3.0/v3.1 base scores from a vector string (FIRST's specification, section 7: base metrics equations).

OSV records carry only the vector; the score is computed so every source gives a comparable number.
"""

from __future__ import annotations

import math
import re

_VECTOR = re.compile(r"^CVSS:3\.[01]/(?:[A-Z]{1,3}:[A-Z]/)*[A-Z]{1,3}:[A-Z]$")

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_BASE = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


def _roundup(value: float) -> float:
    # CVSS v3.1 Roundup: the smallest number with one decimal >= value, free of floating point surprises.
    integer = round(value * 100000)
    if integer % 10000 == 0:
        return integer / 100000.0
    return (math.floor(integer / 10000) + 1) / 10.0


def base_score(vector: str) -> float:
    """The base score of a CVSS v3 vector; ValueError for anything that is not one."""
    if len(vector) > 200 or not _VECTOR.match(vector):
        raise ValueError(f"not a CVSS v3 vector: {vector[:200]!r}")
    metrics: dict[str, str] = {}
    for part in vector.split("/")[1:]:
        key, _, value = part.partition(":")
        if key in metrics:
            raise ValueError(f"metric {key} appears twice in {vector!r}")
        metrics[key] = value
    missing = [key for key in _BASE if key not in metrics]
    if missing:
        raise ValueError(f"CVSS vector {vector!r} lacks base metrics {', '.join(missing)}")
    try:
        changed = {"U": False, "C": True}[metrics["S"]]
        impact_sub = 1 - (1 - _CIA[metrics["C"]]) * (1 - _CIA[metrics["I"]]) * (1 - _CIA[metrics["A"]])
        privileges = (_PR_CHANGED if changed else _PR_UNCHANGED)[metrics["PR"]]
        exploitability = 8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * privileges * _UI[metrics["UI"]]
    except KeyError as exc:
        raise ValueError(f"CVSS vector {vector!r} has an unknown value {exc}") from None
    impact = 7.52 * (impact_sub - 0.029) - 3.25 * (impact_sub - 0.02) ** 15 if changed else 6.42 * impact_sub
    if impact <= 0:
        return 0.0
    if changed:
        return _roundup(min(1.08 * (impact + exploitability), 10))
    return _roundup(min(impact + exploitability, 10))
