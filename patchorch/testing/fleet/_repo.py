"""The acme apt repository every fleet host reads at /srv/acme-repo, built from `packages/recipe.json`.

Packages are made with `dpkg-deb --build`, indexed with `dpkg-scanpackages --multiversion` (so every version stays
installable, for downgrades and pinned upgrades) and described by a Release file the hosts trust (`[trusted=yes]`).

Two flat suites, as Debian has: the main one at the top (`acme`) and a security suite in `security/`
(`acme-security`), which holds the recipe's packages marked `"suite": "security"`. apt names a candidate's archive
`acme-security:acme-security` in a simulation, so the patch role's security scope takes exactly those upgrades.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from patchorch.testing.fleet._errors import FleetError

_RECIPES = "patchorch.testing.fleet.packages"
_HASH_FILE = ".recipe-hash"


SECURITY_SUITE = "security"
# Suite name -> (directory inside the repository, Label, Suite and Codename of its Release file).
_SUITES = {
    "main": (".", "acme", "./", "acme"),
    SECURITY_SUITE: ("security", "acme-security", "acme-security", "acme-security"),
}


@dataclass(frozen=True)
class PackageVersion:
    """One package version the repository offers, and the suite that offers it (`main` or `security`)."""

    name: str
    version: str
    suite: str = "main"

    @property
    def filename(self) -> str:
        """The .deb's file name in the repository."""
        return f"{self.name}_{self.version}_all.deb"


def _source(name: str) -> bytes:
    return resources.files(_RECIPES).joinpath(name).read_bytes()


def _recipe() -> dict[str, Any]:
    recipe: dict[str, Any] = json.loads(_source("recipe.json"))
    return recipe


def recipe_hash() -> str:
    """Hash of the recipe and every file it names."""
    recipe = _recipe()
    digest = hashlib.sha256(_source("recipe.json"))
    names = sorted(
        {f["source"] for p in recipe["packages"] for f in p["files"].values() if "source" in f}
        | {s for p in recipe["packages"] for s in p["scripts"].values()}
    )
    for name in names:
        digest.update(f"\0{name}\0".encode() + _source(name))
    return digest.hexdigest()


def available_versions() -> tuple[PackageVersion, ...]:
    """Every package version in the repository, in recipe order."""
    return tuple(PackageVersion(p["name"], p["version"], p.get("suite", "main")) for p in _recipe()["packages"])


def initial_versions() -> tuple[PackageVersion, ...]:
    """The versions each host has installed when the fleet is created."""
    return tuple(PackageVersion(*item.split("=", 1)) for item in _recipe()["initial"])


def build_repository(target: Path) -> str:
    """Build the repository into `target` unless it already holds this recipe's build; returns the recipe hash."""
    wanted = recipe_hash()
    marker = target / _HASH_FILE
    if marker.exists() and marker.read_text().strip() == wanted:
        return wanted
    for tool in ("dpkg-deb", "dpkg-scanpackages"):
        if shutil.which(tool) is None:
            raise FleetError(f"{tool} is not installed (run scripts/install-fleet-deps.sh)")
    build = target.with_name(target.name + ".build")
    shutil.rmtree(build, ignore_errors=True)
    out = build / "repo"
    out.mkdir(parents=True)
    recipe = _recipe()
    for suite, (directory, *_) in _SUITES.items():
        (out / directory).mkdir(exist_ok=True)
        for package in recipe["packages"]:
            if package.get("suite", "main") == suite:
                _build_package(package, build / "trees", out / directory)
    for directory, label, name, codename in _SUITES.values():
        suite_dir = out / directory
        # The main suite's index must not descend into security/: index its own .deb files only.
        debs = sorted(path.name for path in suite_dir.glob("*.deb"))
        scan = suite_dir / ".scan"
        scan.mkdir()
        for deb in debs:
            (scan / deb).symlink_to(suite_dir / deb)
        index = _run(["dpkg-scanpackages", "--multiversion", ".scan", "/dev/null"], cwd=suite_dir)
        shutil.rmtree(scan)
        (suite_dir / "Packages").write_text(index.replace("Filename: .scan/", "Filename: ./"))
        (suite_dir / "Release").write_text(_release(suite_dir / "Packages", label=label, suite=name, codename=codename))
    (out / "initial.txt").write_text("\n".join(recipe["initial"]) + "\n")
    (out / _HASH_FILE).write_text(wanted + "\n")
    shutil.rmtree(target, ignore_errors=True)
    out.rename(target)
    shutil.rmtree(build, ignore_errors=True)
    return wanted


def _build_package(package: dict[str, Any], trees: Path, out: Path) -> None:
    version = PackageVersion(package["name"], package["version"])
    root = trees / f"{version.name}_{version.version}"
    debian = root / "DEBIAN"
    debian.mkdir(parents=True)
    control = {
        "Package": version.name,
        "Version": version.version,
        "Architecture": "all",
        "Maintainer": "patchorch test fleet <fleet@patchorch.invalid>",
        "Section": "mail",
        "Priority": "optional",
        "Depends": package.get("depends", ""),
        "Description": package["description"],
    }
    (debian / "control").write_text("".join(f"{key}: {value}\n" for key, value in control.items() if value))
    for script, source in package["scripts"].items():
        path = debian / script
        path.write_bytes(_source(source))
        path.chmod(0o755)
    for destination, spec in package["files"].items():
        path = root / destination
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_source(spec["source"]) if "source" in spec else spec["content"].encode())
        path.chmod(int(spec.get("mode", "0644"), 8))
    _run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out / version.filename)])


def _release(packages: Path, *, label: str, suite: str, codename: str) -> str:
    data = packages.read_bytes()
    lines = [
        "Origin: patchorch-fleet",
        f"Label: {label}",
        f"Suite: {suite}",
        f"Codename: {codename}",
        "Architectures: all amd64 arm64",
        f"Description: {label} test packages of the patchorch test fleet",
    ]
    for field, algorithm in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        lines.append(f"{field}:")
        lines.append(f" {hashlib.new(algorithm, data).hexdigest()} {len(data)} Packages")
    return "\n".join(lines) + "\n"


def _run(command: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False, timeout=120)
    if result.returncode != 0:
        raise FleetError(f"{command[0]} failed: {result.stderr.strip()}", command=command)
    return result.stdout
