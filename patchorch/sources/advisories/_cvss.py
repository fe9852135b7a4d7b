"""CVSS base scores from vector strings (v2, v3.0, v3.1 and v4.0), computed by the `cvss` package.

OSV records carry only the vector; the score is computed so every source gives a comparable number.
"""

from __future__ import annotations

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError


def base_score(vector: str) -> float:
    """The base score of a CVSS v2, v3.x or v4.0 vector; ValueError for anything that is not one."""
    if len(vector) > 300:
        raise ValueError(f"not a CVSS vector: {vector[:200]!r}")
    try:
        if vector.startswith("CVSS:4.0/"):
            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3."):
            return float(CVSS3(vector).base_score)
        return float(CVSS2(vector).base_score)
    except (CVSSError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"not a CVSS vector: {vector[:200]!r} ({exc})") from None
