"""How patchorch's CSAF reader fares on the OASIS CSAF 2.0 test corpus; writes bench/results/csaf_corpus.json.

    .venv/bin/python bench/csaf_corpus.py DIR

DIR holds the corpus's `mandatory/`, `recommended/` and `informative/` documents (oasis_csaf_tc-csaf_2_0-2021-*.json:
case numbers 01-09 of a mandatory test are invalid, 11 and up valid; recommended and informative documents are valid
under the mandatory tests). Counts: invalid documents of an enforced test refused or accepted, invalid documents of
tests patchorch does not enforce, valid documents accepted or refused (with the first problem), and the time taken.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from patchorch.errors import AdvisoryError
from patchorch.sources.advisories import parse_document

RESULTS = Path(__file__).with_name("results") / "csaf_corpus.json"
ENFORCED = {f"6.1.{n}" for n in [*range(1, 11), *range(14, 23), 32, 33]}
CASE = re.compile(r"2021-6-(\d)-(\d+)(?:-\d+)?-(\d+)\.json$")


def _accepted(path: Path) -> tuple[bool, str]:
    try:
        parse_document(path.read_bytes(), path.name)
    except AdvisoryError as exc:
        return False, str(exc)[:300]
    return True, ""


def measure(root: Path) -> dict[str, Any]:
    """The counts described in the module doc for the corpus below `root`."""
    counts: dict[str, Any] = {
        "invalid_enforced_refused": 0,
        "invalid_enforced_accepted": [],
        "invalid_not_enforced_refused": 0,
        "invalid_not_enforced_accepted": 0,
        "valid_accepted": 0,
        "valid_refused": [],
    }
    started = time.perf_counter()
    for path in sorted(root.rglob("oasis_csaf_tc-csaf_2_0-2021-*.json")):
        found = CASE.search(path.name)
        if found is None or path.name.endswith(".result.json"):
            continue
        section, test, case = found.group(1), found.group(2), int(found.group(3))
        valid = section != "1" or case >= 11
        ok, message = _accepted(path)
        if valid:
            if ok:
                counts["valid_accepted"] += 1
            else:
                counts["valid_refused"].append({"file": path.name, "problem": message})
        elif f"6.1.{int(test)}" in ENFORCED:
            if ok:
                counts["invalid_enforced_accepted"].append(path.name)
            else:
                counts["invalid_enforced_refused"] += 1
        else:
            counts["invalid_not_enforced_refused" if not ok else "invalid_not_enforced_accepted"] += 1
    counts["seconds"] = round(time.perf_counter() - started, 3)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    args = parser.parse_args()
    result = {"corpus": str(args.corpus), **measure(args.corpus)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
