"""Advisory documents: CSAF 2.0, CISA KEV and OSV, read strictly and normalised to `patchorch.domain.advisory`.

`load_document(path)` reads one file, recognises its format and returns the parsed document with its advisories;
anything wrong raises `AdvisoryError` naming the file and the JSON pointer of the bad value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchorch.domain.advisory import Advisory, AdvisorySource
from patchorch.sources.advisories import csaf, kev, osv
from patchorch.sources.advisories._document import MAX_BYTES, fail, parse_json, validate

__all__ = ["MAX_BYTES", "LoadedDocument", "detect", "documents_in", "load_document", "parse_document"]

Parsed = csaf.CsafDocument | kev.KevCatalog | osv.OsvRecord


@dataclass(frozen=True)
class LoadedDocument:
    """One advisory file: where it came from, its format and SHA-256, the parsed document and its advisories."""

    path: str
    format: AdvisorySource
    sha256: str
    document: Parsed
    advisories: tuple[Advisory, ...]


def detect(data: Any, file: str) -> AdvisorySource:
    """Which format a parsed JSON document is: CSAF has `document`, KEV `catalogVersion`, OSV `id` and `modified`."""
    if not isinstance(data, dict):
        raise fail(file, (), "expected a JSON object (a CSAF 2.0 document, a CISA KEV catalogue or an OSV record)")
    if "document" in data:
        return AdvisorySource.CSAF
    if "catalogVersion" in data:
        return AdvisorySource.KEV
    if "id" in data and "modified" in data:
        return AdvisorySource.OSV
    raise fail(
        file,
        (),
        "not a CSAF 2.0 document (no 'document'), CISA KEV catalogue (no 'catalogVersion') "
        "or OSV record (no 'id' and 'modified')",
    )


def parse_document(raw: bytes, file: str) -> LoadedDocument:
    """Parse the bytes of one advisory file named `file` (used in messages)."""
    data = parse_json(raw, file)
    source = detect(data, file)
    digest = hashlib.sha256(raw).hexdigest()
    document: Parsed
    if source is AdvisorySource.CSAF:
        document = validate(csaf.CsafDocument, data, file)
        csaf.check(data, file)
        advisories = csaf.to_advisories(document, file)
    elif source is AdvisorySource.KEV:
        document = validate(kev.KevCatalog, data, file)
        advisories = kev.to_advisories(document, file)
    else:
        document = validate(osv.OsvRecord, data, file)
        advisories = osv.to_advisories(document, file)
    return LoadedDocument(path=file, format=source, sha256=digest, document=document, advisories=advisories)


def load_document(path: Path | str) -> LoadedDocument:
    """Read and parse one advisory file; AdvisoryError for a file that cannot be read, is too large or is invalid."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise fail(file, (), f"cannot be read: {exc.strerror or exc}") from None
    return parse_document(raw, file)


def documents_in(path: Path) -> tuple[Path, ...]:
    """The advisory files a path names: the file itself, or every `*.json` below a directory, sorted."""
    if path.is_dir():
        return tuple(sorted(p for p in path.rglob("*.json") if p.is_file()))
    return (path,)
