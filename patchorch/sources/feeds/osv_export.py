"""OSV exports per ecosystem: `<base>/<ecosystem>/modified_id.csv`, `all.zip` and `<id>.json`.

`modified_id.csv` has one `<modified timestamp>,<id>` line per record of the ecosystem (the id may carry an
`<ecosystem>/` prefix). The first sync of an ecosystem reads `all.zip` once; later syncs fetch only the records whose
timestamp changed. `fleet_ecosystems` names the OSV ecosystems of the distributions the fleet's facts report.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from patchorch.errors import SourceError

MAX_RECORDS = 500_000
MAX_RECORD_BYTES = 20 * 1024 * 1024
MAX_ZIP_TOTAL = 4 * 1024 * 1024 * 1024

# Ansible's `distribution` (lower-case) to the OSV ecosystem that publishes its advisories.
_ECOSYSTEMS = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "redhat": "Red Hat",
    "rhel": "Red Hat",
    "centos": "Red Hat",
    "almalinux": "AlmaLinux",
    "rocky": "Rocky Linux",
    "opensuse": "openSUSE",
    "opensuse leap": "openSUSE",
    "sles": "SUSE",
    "suse": "SUSE",
}


def fleet_ecosystems(families: Iterable[str]) -> tuple[str, ...]:
    """The OSV ecosystems of these distribution families (Ansible's names), sorted; unknown families are skipped."""
    return tuple(sorted({_ECOSYSTEMS[f.lower()] for f in families if f.lower() in _ECOSYSTEMS}))


def ecosystem_url(base: str, ecosystem: str, name: str) -> str:
    """The URL of a file of an ecosystem's export (`modified_id.csv`, `all.zip`, `<id>.json`)."""
    return f"{base.rstrip('/')}/{quote(ecosystem)}/{quote(name)}"


def modified_ids(body: bytes, url: str) -> dict[str, str]:
    """Record id -> modified timestamp from a modified_id.csv."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(f"{url}: not UTF-8", url=url) from None
    result: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if number > MAX_RECORDS:
            raise SourceError(f"{url}: more than {MAX_RECORDS} lines", url=url)
        stamp, sep, record = line.partition(",")
        record = record.strip().rsplit("/", 1)[-1]
        if not sep or not stamp.strip() or not record or record in (".", ".."):
            raise SourceError(f"{url}: line {number}: expected <timestamp>,<id>", url=url)
        result[record] = stamp.strip()
    return result


def zip_records(body: bytes, url: str, *, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each `*.json` in an all.zip, each member and the total bounded."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{url}: not a zip archive: {exc}", url=url) from None
    members = [info for info in archive.infolist() if info.filename.endswith(".json") and not info.is_dir()]
    if len(members) > MAX_RECORDS:
        raise SourceError(f"{url}: more than {MAX_RECORDS} records", url=url)
    total = 0
    with archive:
        for info in members:
            total += info.file_size
            if info.file_size > max_record_bytes or total > MAX_ZIP_TOTAL:
                raise SourceError(f"{url}: {info.filename} unpacks beyond the size limit", url=url)
            with archive.open(info) as member:
                data = member.read(max_record_bytes + 1)
            if len(data) > max_record_bytes:
                raise SourceError(f"{url}: {info.filename} unpacks beyond the size limit", url=url)
            yield info.filename, data
