"""CISA's Known Exploited Vulnerabilities catalogue (the JSON feed and its published schema).

Each entry becomes one Advisory `KEV:<cveID>` with active exploitation and the KEV data (due date, required action,
known ransomware use). KEV names vendors and products, not packages, so these advisories match no package by
themselves: matching uses them to mark findings of CSAF and OSV advisories for the same CVE as known exploited.
The revision is the catalogue's `catalogVersion`; an entry's revision key orders it by catalogue version, then by
`dateAdded`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Annotated, Literal

from pydantic import Field, model_validator

from patchorch.domain.advisory import Advisory, AdvisorySource, Day, Exploitation, KevEntry, Moment
from patchorch.errors import AdvisoryError
from patchorch.sources.advisories._document import Strict, problem

_MAX = 200_000
Short = Annotated[str, Field(max_length=2000)]


class KevVulnerability(Strict):
    """One catalogue entry."""

    cve_id: Annotated[str, Field(alias="cveID", pattern=r"^CVE-[0-9]{4}-[0-9]{4,}$")]
    vendor_project: Annotated[Short, Field(alias="vendorProject")]
    product: Short
    vulnerability_name: Annotated[Short, Field(alias="vulnerabilityName")]
    date_added: Annotated[Day, Field(alias="dateAdded")]
    short_description: Annotated[str, Field(alias="shortDescription", max_length=20000)]
    required_action: Annotated[Short, Field(alias="requiredAction")]
    due_date: Annotated[Day, Field(alias="dueDate")]
    known_ransomware_campaign_use: Annotated[Literal["Known", "Unknown"], Field(alias="knownRansomwareCampaignUse")] = (
        "Unknown"
    )
    notes: Annotated[str, Field(max_length=20000)] = ""


class KevCatalog(Strict):
    """The catalogue: its version, release time and entries."""

    title: Short = ""
    catalog_version: Annotated[str, Field(alias="catalogVersion", min_length=1, max_length=50)]
    date_released: Annotated[Moment, Field(alias="dateReleased")]
    count: Annotated[int, Field(ge=0)]
    vulnerabilities: Annotated[tuple[KevVulnerability, ...], Field(max_length=_MAX)]

    @model_validator(mode="after")
    def _count(self) -> KevCatalog:
        if self.count != len(self.vulnerabilities):
            raise ValueError(f"count is {self.count} but the catalogue lists {len(self.vulnerabilities)} entries")
        return self


def _version_key(catalog_version: str) -> tuple[int, ...]:
    return tuple(int(part[:9]) for part in re.findall(r"\d+", catalog_version)) or (0,)


def _clean(text: str) -> str:
    # KEV text is prose; control characters (tabs, new lines) become spaces.
    return re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", text).strip()


def to_advisories(catalog: KevCatalog, file: str) -> tuple[Advisory, ...]:
    """One Advisory per catalogue entry."""
    result = []
    released = catalog.date_released if catalog.date_released.tzinfo else catalog.date_released.replace(tzinfo=UTC)
    for index, entry in enumerate(catalog.vulnerabilities):
        try:
            result.append(
                Advisory(
                    id=f"KEV:{entry.cve_id}",
                    source=AdvisorySource.KEV,
                    revision=catalog.catalog_version,
                    revision_key=(*_version_key(catalog.catalog_version), entry.date_added.toordinal()),
                    title=_clean(entry.vulnerability_name),
                    published=datetime.combine(entry.date_added, time(0), tzinfo=UTC),
                    updated=released,
                    cves=(entry.cve_id,),
                    exploitation=Exploitation.ACTIVE,
                    kev=KevEntry(
                        cve=entry.cve_id,
                        vendor_project=_clean(entry.vendor_project),
                        product=_clean(entry.product),
                        date_added=entry.date_added,
                        due_date=entry.due_date,
                        required_action=_clean(entry.required_action),
                        short_description=_clean(entry.short_description),
                        known_ransomware=entry.known_ransomware_campaign_use == "Known",
                    ),
                )
            )
        except ValueError as exc:
            raise AdvisoryError([problem(file, ("vulnerabilities", index), f"cannot be read: {exc}")]) from None
    return tuple(result)
