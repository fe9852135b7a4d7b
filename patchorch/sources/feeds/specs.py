"""Where `advisories sync` pulls from: the `advisory_sources` list of patchorch.yml, validated.

Each source has a `type`:

    advisory_sources:
      - type: csaf                  # a CSAF 2.0 trusted provider (provider-metadata.json) or aggregator
        name: bsi
        url: https://wid.cert-bund.de/.well-known/csaf/provider-metadata.json
        keys: [keys/bsi-csaf.asc]   # optional pinned OpenPGP certificates; else the provider's public_openpgp_keys
        fingerprints: []            # optional: accept only signatures by these key fingerprints
      - type: kev                   # the CISA Known Exploited Vulnerabilities catalogue
      - type: osv                   # OSV records of the distributions in the fleet (or the ecosystems listed)
        ecosystems: fleet           # or [Debian, Ubuntu]

Every source may name a `ca_file` (PEM) to trust instead of the system's certificate authorities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

KEV_URL: Final = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
OSV_URL: Final = "https://osv-vulnerabilities.storage.googleapis.com"
BSI_PROVIDER_METADATA: Final = "https://wid.cert-bund.de/.well-known/csaf/provider-metadata.json"

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


def _https(value: str) -> str:
    if not value.startswith("https://"):
        raise ValueError("must be an https:// URL (documents are only fetched over verified TLS)")
    return value


class _Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_file: Path | None = None


class CsafSource(_Source):
    """A CSAF 2.0 trusted provider or aggregator: every document checked against its hash file and signature."""

    type: Literal["csaf"]
    name: Name
    url: str
    keys: tuple[Path, ...] = ()
    fingerprints: tuple[Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{40,64}$")], ...] = ()

    _url = field_validator("url")(_https)

    @field_validator("fingerprints")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(item.lower() for item in value)


class KevSource(_Source):
    """The CISA KEV catalogue (one JSON document, fetched when its ETag or Last-Modified changed)."""

    type: Literal["kev"]
    name: Name = "cisa-kev"
    url: str = KEV_URL

    _url = field_validator("url")(_https)


class OsvSource(_Source):
    """OSV records per ecosystem from an OSV export (`<url>/<ecosystem>/modified_id.csv`, `all.zip`, `<id>.json`)."""

    type: Literal["osv"]
    name: Name = "osv"
    url: str = OSV_URL
    ecosystems: Literal["fleet"] | tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = "fleet"

    _url = field_validator("url")(_https)


SourceSpec = Annotated[CsafSource | KevSource | OsvSource, Field(discriminator="type")]
