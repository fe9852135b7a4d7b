"""Real-shaped advisory documents the tests build: a CPE-only BSI/CERT-Bund advisory, a Red Hat advisory spanning
el8, el9, EUS 8.6 and an OpenShift el9 stream, and an Ubuntu USN in OSV form naming its CVEs only as UBUNTU-CVE.

Their shapes follow the published documents (WID-SEC-W-* product trees of vendor / product_name /
product_version_range branches with CPE 2.2 URIs; RHSA product trees of platform CPEs and rpm purls joined by
`default_component_of` relationships; USN OSV records with `upstream` aliases); names, versions and IDs are made up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from patchorch.domain.advisory import OsRelease, PackageFact

# Facts shaped like the test fleet's hosts: Debian bookworm minbase, dpkg, binary packages with their source.
DEBIAN_12 = OsRelease(family="Debian", version="12", release="12.8", manager="dpkg")
RHEL_8_10 = OsRelease(family="RedHat", version="8", release="8.10", manager="rpm")
RHEL_8_6 = OsRelease(family="RedHat", version="8", release="8.6", manager="rpm")
RHEL_9 = OsRelease(family="RedHat", version="9", release="9.4", manager="rpm")
UBUNTU_22_04 = OsRelease(family="Ubuntu", version="22", release="22.04", manager="dpkg")


def fleet_packages(*extra: PackageFact) -> tuple[PackageFact, ...]:
    """A bookworm host's packages (a few of the minbase ones) plus `extra`."""
    base = (
        PackageFact(name="libc6", version="2.36-9+deb12u9", arch="amd64", source="glibc"),
        PackageFact(name="openssh-server", version="1:9.2p1-2+deb12u3", arch="amd64", source="openssh"),
        PackageFact(name="sudo", version="1.9.13p3-1+deb12u1", arch="amd64", source="sudo"),
    )
    return base + extra


def _tracking(identifier: str, version: str = "1") -> dict[str, Any]:
    return {
        "id": identifier,
        "version": version,
        "status": "final",
        "initial_release_date": "2026-11-30T10:00:00.000+00:00",
        "current_release_date": "2026-11-30T10:00:00.000+00:00",
        "revision_history": [{"date": "2026-11-30T10:00:00.000+00:00", "number": version, "summary": "Initial"}],
    }


def _document(identifier: str, title: str, publisher: str) -> dict[str, Any]:
    return {
        "category": "csaf_security_advisory" if publisher == "vendor" else "csaf_base",
        "csaf_version": "2.0",
        "title": title,
        "publisher": {"category": publisher, "name": "Example", "namespace": "https://example.org"},
        "tracking": _tracking(identifier),
    }


def _leaf(category: str, name: str, product_name: str, product_id: str, cpe: str | None = None) -> dict[str, Any]:
    product: dict[str, Any] = {"name": product_name, "product_id": product_id}
    if cpe:
        product["product_identification_helper"] = {"cpe": cpe}
    return {"category": category, "name": name, "product": product}


def bsi_cpe_only(*, extra_products: tuple[tuple[str, str, str, str | None], ...] = ()) -> dict[str, Any]:
    """A WID-SEC-style advisory: Debian Linux and Red Hat Enterprise Linux 9, Exim < 4.97.1, OpenSSL <= 3.0.13 and a
    Cisco IOS XE line, all by CPE or name only; `extra_products` adds (vendor, product_name, name, cpe) leaves."""
    branches: list[dict[str, Any]] = [
        {
            "category": "vendor",
            "name": "Debian",
            "branches": [_leaf("product_name", "Debian Linux", "Debian Linux", "2951", "cpe:/o:debian:debian_linux:-")],
        },
        {
            "category": "vendor",
            "name": "Red Hat",
            "branches": [
                {
                    "category": "product_name",
                    "name": "Red Hat Enterprise Linux",
                    "branches": [
                        _leaf(
                            "product_version",
                            "9",
                            "Red Hat Enterprise Linux 9",
                            "T036397",
                            "cpe:/o:redhat:red_hat_enterprise_linux:9",
                        )
                    ],
                }
            ],
        },
        {
            "category": "vendor",
            "name": "Open Source",
            "branches": [
                {
                    "category": "product_name",
                    "name": "Open Source Exim",
                    "branches": [
                        _leaf(
                            "product_version_range",
                            "<4.97.1",
                            "Open Source Exim <4.97.1",
                            "T031829",
                            "cpe:/a:exim:exim:4.97.1",
                        )
                    ],
                },
                {
                    "category": "product_name",
                    "name": "Open Source OpenSSL",
                    "branches": [_leaf("product_version_range", "<=3.0.13", "Open Source OpenSSL <=3.0.13", "T034172")],
                },
            ],
        },
        {
            "category": "vendor",
            "name": "Cisco",
            "branches": [_leaf("product_name", "IOS XE", "Cisco IOS XE", "T000815", "cpe:/o:cisco:ios_xe:-")],
        },
    ]
    for vendor, product_name, name, cpe in extra_products:
        product_id = f"T9{len(branches):05d}"
        branches.append(
            {
                "category": "vendor",
                "name": vendor,
                "branches": [_leaf("product_name", product_name, name, product_id, cpe)],
            }
        )
    ids = _product_ids(branches)
    return {
        "document": _document("WID-SEC-W-2026-3001", "Exim und OpenSSL: Mehrere Schwachstellen", "coordinator"),
        "product_tree": {"branches": branches},
        "vulnerabilities": [{"cve": "CVE-2026-30001", "product_status": {"known_affected": ids}}],
    }


def _product_ids(branches: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for branch in branches:
        if "product" in branch:
            found.append(branch["product"]["product_id"])
        found.extend(_product_ids(branch.get("branches", [])))
    return found


_PLATFORMS = {
    "BaseOS-8.10.0.Z.MAIN": ("Red Hat Enterprise Linux BaseOS (v. 8)", "cpe:/o:redhat:enterprise_linux:8::baseos"),
    "BaseOS-9.4.0.Z.MAIN": ("Red Hat Enterprise Linux BaseOS (v. 9)", "cpe:/o:redhat:enterprise_linux:9::baseos"),
    "BaseOS-8.6.0.Z.EUS": ("Red Hat Enterprise Linux BaseOS EUS (v.8.6)", "cpe:/o:redhat:rhel_eus:8.6::baseos"),
    "OpenShift-4.14-el9": ("Red Hat OpenShift Container Platform 4.14", "cpe:/a:redhat:openshift:4.14::el9"),
}


def red_hat_streams() -> dict[str, Any]:
    """An RHSA-style advisory fixing kernel in el8, el9 and EUS 8.6, and podman in the OpenShift 4.14 el9 stream.

    Packages carry no `distro` qualifier (as Red Hat writes them): the stream comes from the platform's CPE.
    """
    fixes = {
        "BaseOS-8.10.0.Z.MAIN": ("kernel", "4.18.0-553.30.1.el8_10"),
        "BaseOS-9.4.0.Z.MAIN": ("kernel", "5.14.0-427.42.1.el9_4"),
        "BaseOS-8.6.0.Z.EUS": ("kernel", "4.18.0-372.131.1.el8_6"),
        "OpenShift-4.14-el9": ("podman", "4.4.1-21.rhaos4.14.el9"),
    }
    platforms = [
        {
            "category": "product_name",
            "name": name,
            "product": {"name": name, "product_id": pid, "product_identification_helper": {"cpe": cpe}},
        }
        for pid, (name, cpe) in _PLATFORMS.items()
    ]
    components, relationships, fixed = [], [], []
    for platform, (package, version) in fixes.items():
        component = f"{package}-{version}.x86_64"
        components.append(
            {
                "category": "product_version",
                "name": component,
                "product": {
                    "name": component,
                    "product_id": component,
                    "product_identification_helper": {
                        "purl": f"pkg:rpm/redhat/{package}@{version}?arch=x86_64",
                    },
                },
            }
        )
        relationships.append(
            {
                "category": "default_component_of",
                "full_product_name": {
                    "name": f"{component} as a component of {platform}",
                    "product_id": f"{platform}:{component}",
                },
                "product_reference": component,
                "relates_to_product_reference": platform,
            }
        )
        fixed.append(f"{platform}:{component}")
    return {
        "document": _document("RHSA-2026:9001", "Important: kernel and podman security update", "vendor"),
        "product_tree": {
            # Relationships first: they refer forward to products the branches define later (valid CSAF).
            "relationships": relationships,
            "branches": [
                {
                    "category": "vendor",
                    "name": "Red Hat",
                    "branches": [
                        {"category": "product_family", "name": "Red Hat Enterprise Linux", "branches": platforms},
                        {"category": "architecture", "name": "x86_64", "branches": components},
                    ],
                }
            ],
        },
        "vulnerabilities": [{"cve": "CVE-2026-40001", "product_status": {"fixed": fixed}}],
    }


def usn_with_ubuntu_cve_aliases() -> dict[str, Any]:
    """An Ubuntu USN in OSV form: the CVE appears only as `UBUNTU-CVE-...` among `upstream`."""
    return {
        "schema_version": "1.6.3",
        "id": "USN-7100-1",
        "summary": "openssl vulnerability",
        "modified": "2026-11-28T12:00:00Z",
        "published": "2026-11-28T12:00:00Z",
        "upstream": ["UBUNTU-CVE-2026-10001"],
        "affected": [
            {
                "package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "openssl"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.19"}]}],
            }
        ],
    }


def write(path: Path, data: dict[str, Any]) -> Path:
    """`data` as a JSON file at `path`."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
