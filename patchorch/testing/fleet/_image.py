"""The fleet's host image: Debian bookworm made with `debootstrap --variant=minbase`, imported into podman.

Two caches under the cache directory: the debootstrap rootfs as a tarball, keyed by the base recipe (suite, variant,
packages), and the podman image, tagged with the hash of the whole recipe (base plus the files baked in from
`hostfiles/`). Editing a host file re-imports in seconds; changing the package list runs debootstrap again.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from patchorch.testing.fleet._errors import FleetError
from patchorch.testing.fleet._podman import Podman

DEFAULT_CACHE = Path("/var/cache/patchorch-fleet")
IMAGE_REPOSITORY = "localhost/patchorch-fleet-host"
RECIPE_LABEL = "patchorch.fleet.recipe"
SUITE = "bookworm"
VARIANT = "minbase"
# needrestart: the patch role lists services still running replaced code with it (in list mode only).
PACKAGES = ("python3", "python3-apt", "openssh-server", "procps", "needrestart")

# Baked into the image: name in hostfiles/ -> path in the image.
HOST_FILES = {
    "fleet-init.sh": "usr/local/sbin/fleet-init",
    "fleet-reboot.sh": "usr/local/sbin/fleet-reboot",
    "fleet-service.sh": "usr/local/sbin/fleet-service",
    "fleet-fault.sh": "usr/local/sbin/fleet-fault",
}
# Only the fleet's own repository, its main and security suites: the Debian sources debootstrap wrote are removed.
APT_SOURCES = "deb [trusted=yes] file:/srv/acme-repo ./\ndeb [trusted=yes] file:/srv/acme-repo/security ./\n"
APT_CONF = 'Acquire::Languages "none";\nAPT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'


def cache_dir() -> Path:
    """PATCHORCH_FLEET_CACHE, else /var/cache/patchorch-fleet."""
    return Path(os.environ.get("PATCHORCH_FLEET_CACHE") or DEFAULT_CACHE)


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses for bookworm (PATCHORCH_FLEET_MIRROR overrides)."""
    override = os.environ.get("PATCHORCH_FLEET_MIRROR")
    if override:
        return override
    candidates: list[tuple[str, list[str]]] = []
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                key, _, value = line.partition(":")
                if value and not line.startswith(("#", " ", "\t")):
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    candidates.append((uri, fields.get("suites", "").split()))
    for path in [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]:
        if path.exists():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    candidates.append((words[1], [words[2]]))
    for uri, suites in candidates:
        if SUITE in suites:
            return uri.rstrip("/")
    raise FleetError(f"no apt source for Debian {SUITE} in {apt_dir}; set PATCHORCH_FLEET_MIRROR")


def _host_file(name: str) -> bytes:
    return resources.files("patchorch.testing.fleet.hostfiles").joinpath(name).read_bytes()


def base_recipe_hash() -> str:
    """Hash of what debootstrap makes: suite, variant and packages."""
    text = f"{SUITE}\n{VARIANT}\n{','.join(sorted(PACKAGES))}\n"
    return hashlib.sha256(text.encode()).hexdigest()


def recipe_hash() -> str:
    """Hash of the whole image recipe: the base plus every file baked in."""
    digest = hashlib.sha256(base_recipe_hash().encode())
    for name, target in sorted(HOST_FILES.items()):
        digest.update(f"\0{target}\0".encode() + _host_file(name))
    digest.update(APT_SOURCES.encode() + APT_CONF.encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ImageBuild:
    """What `ensure_image` did: the tag, whether debootstrap or an import ran, and how long each took."""

    tag: str
    debootstrapped: bool
    imported: bool
    debootstrap_seconds: float
    import_seconds: float


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock so that concurrent fleets build the image once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def image_tag() -> str:
    """The podman tag of the current recipe."""
    return f"{IMAGE_REPOSITORY}:{recipe_hash()[:16]}"


def ensure_image(podman: Podman, cache: Path | None = None) -> ImageBuild:
    """Make sure the host image of the current recipe is in podman, building what is missing."""
    cache = cache or cache_dir()
    tag = image_tag()
    if podman.image_exists(tag):
        return ImageBuild(tag, debootstrapped=False, imported=False, debootstrap_seconds=0.0, import_seconds=0.0)
    with _locked(cache / "build.lock"):
        if podman.image_exists(tag):
            return ImageBuild(tag, debootstrapped=False, imported=False, debootstrap_seconds=0.0, import_seconds=0.0)
        base = cache / f"base-{SUITE}-{base_recipe_hash()[:16]}.tar"
        debootstrap_seconds = 0.0
        if not base.exists():
            started = time.monotonic()
            _debootstrap(cache, base)
            debootstrap_seconds = time.monotonic() - started
        started = time.monotonic()
        _import(podman, base, cache / f"host-{recipe_hash()[:16]}.tar", tag)
        _prune_old_images(podman, keep=tag)
        return ImageBuild(
            tag,
            debootstrapped=debootstrap_seconds > 0,
            imported=True,
            debootstrap_seconds=debootstrap_seconds,
            import_seconds=time.monotonic() - started,
        )


def _prune_old_images(podman: Podman, keep: str) -> None:
    """Remove images of older recipes; podman refuses (and we ignore it) while a container still uses one."""
    listing = podman.run("images", "--format", "{{.Repository}}:{{.Tag}}", IMAGE_REPOSITORY, check=False)
    for reference in listing.stdout.split():
        if reference != keep:
            podman.run("rmi", reference, check=False)


def _debootstrap(cache: Path, base: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise FleetError("debootstrap is not installed (run scripts/install-fleet-deps.sh)")
    work = cache / f"rootfs-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    mirror = debian_mirror()
    command = [
        "debootstrap",
        f"--variant={VARIANT}",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(work),
        mirror,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
        if result.returncode != 0:
            log = work / "debootstrap" / "debootstrap.log"
            tail = log.read_text()[-2000:] if log.exists() else result.stderr[-2000:]
            raise FleetError(f"debootstrap from {mirror} failed: {tail}", command=command)
        _trim_base(work)
        partial = base.with_suffix(".tar.partial")
        with tarfile.open(partial, "w") as archive:
            archive.add(work, arcname=".")
        partial.rename(base)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _trim_base(root: Path) -> None:
    """Remove what no fleet host may have: Debian's sources, shared SSH host keys, downloaded packages, and
    needrestart's apt hook (it would restart services after every apt run: the patch role decides that instead)."""
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/apt.conf.d/99needrestart").unlink(missing_ok=True)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_Packages", "var/lib/apt/lists/*_Release*"):
        for path in root.glob(pattern):
            path.unlink()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(f"./{name}")
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    archive.addfile(info, io.BytesIO(data))


def _add_dir(archive: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(f"./{name}")
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(time.time())
    archive.addfile(info)


def _import(podman: Podman, base: Path, image_tar: Path, tag: str) -> None:
    partial = image_tar.with_suffix(".tar.partial")
    shutil.copyfile(base, partial)
    try:
        with tarfile.open(partial, "a") as archive:
            for name, target in sorted(HOST_FILES.items()):
                _add_bytes(archive, target, _host_file(name), 0o755)
            _add_bytes(archive, "etc/apt/sources.list.d/acme-repo.list", APT_SOURCES.encode(), 0o644)
            _add_bytes(archive, "etc/apt/apt.conf.d/99patchorch-fleet", APT_CONF.encode(), 0o644)
            for directory in ("srv/acme-repo", "etc/fleet", "etc/fleet/faults", "var/lib/fleet"):
                _add_dir(archive, directory)
        podman.run(
            "import",
            "--change",
            'CMD ["/usr/local/sbin/fleet-init"]',
            "--change",
            f"LABEL {RECIPE_LABEL}={recipe_hash()}",
            "--message",
            "patchorch test fleet host (Debian bookworm minbase)",
            str(partial),
            tag,
            timeout=900,
        )
    finally:
        partial.unlink(missing_ok=True)
