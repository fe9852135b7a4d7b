"""The pieces of `sources.feeds` on their own: listings, hash files, OSV exports, keys and settings."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pysequoia
import pytest
import yaml

from patchorch.config import load_settings
from patchorch.errors import ConfigError, SourceError
from patchorch.sources.feeds import CsafSource, KeyRing
from patchorch.sources.feeds.csaf_provider import changes_csv, verify_hash
from patchorch.sources.feeds.osv_export import fleet_ecosystems, modified_ids, zip_records

DIRECTORY = "https://provider.example/.well-known/csaf/white/"


def test_changes_csv_resolves_paths_against_the_directory() -> None:
    """Each line becomes the document URL with its hash files and signature beside it."""
    (ref,) = changes_csv(b'"2026/a.json","2026-11-20T10:00:00Z"\n', DIRECTORY)
    assert ref.url == DIRECTORY + "2026/a.json"
    assert ref.stamp == "2026-11-20T10:00:00Z"
    assert ref.hash_urls == (("sha512", ref.url + ".sha512"), ("sha256", ref.url + ".sha256"))
    assert ref.signature_url == ref.url + ".asc"


def test_changes_csv_refuses_a_path_leaving_https() -> None:
    """A listed path that resolves to a non-https URL is a source error naming the listing."""
    with pytest.raises(SourceError, match=r"changes\.csv: names 'http://evil\.example/a\.json'"):
        changes_csv(b'"http://evil.example/a.json","2026-11-20T10:00:00Z"\n', DIRECTORY)


def test_changes_csv_line_without_timestamp_is_named() -> None:
    """A line that is not path,timestamp is an error with its line number."""
    with pytest.raises(SourceError, match="line 2"):
        changes_csv(b'"a.json","2026-11-20T10:00:00Z"\n"b.json"\n', DIRECTORY)


def test_hash_file_that_is_not_a_digest_is_refused() -> None:
    """A hash file whose first word is not a hex digest of the right length does not verify anything."""
    with pytest.raises(SourceError, match="not a sha256 hash file"):
        verify_hash(b"{}", b"<html>not found</html>", "sha256", "https://p.example/a.json")


def test_sha256_hash_file_verifies_the_document() -> None:
    """A matching `<hex>  <name>` sha256 file is accepted."""
    verify_hash(b"{}", f"{hashlib.sha256(b'{}').hexdigest()}  a.json\n".encode(), "sha256", "https://p.example/a.json")


def test_modified_ids_strips_ecosystem_prefixes() -> None:
    """Lines `<timestamp>,<id>` and `<timestamp>,<ecosystem>/<id>` both give id -> timestamp."""
    body = b"2026-11-23T08:00:00Z,Debian/DSA-6002-1\n2026-11-21T10:15:00Z,DSA-6001-1\n"
    assert modified_ids(body, "u") == {"DSA-6002-1": "2026-11-23T08:00:00Z", "DSA-6001-1": "2026-11-21T10:15:00Z"}


def test_zip_member_beyond_the_limit_is_refused() -> None:
    """An archive member that unpacks beyond the per-record limit is a source error, not a memory blow-up."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.json", b" " * 5000)
    with pytest.raises(SourceError, match=r"big\.json unpacks beyond the size limit"):
        list(zip_records(buffer.getvalue(), "https://osv.example/Debian/all.zip", max_record_bytes=1000))


def test_fleet_ecosystems_from_distribution_families() -> None:
    """Ansible's distribution names map to OSV ecosystems; unknown ones are skipped."""
    assert fleet_ecosystems(["Debian", "ubuntu", "RedHat", "Gentoo"]) == ("Debian", "Red Hat", "Ubuntu")


def test_key_with_another_fingerprint_than_declared_is_refused() -> None:
    """A key file whose certificate does not have the fingerprint the provider declares is not trusted."""
    cert = pysequoia.Tsk.generate("A <a@example.test>").extract_certificate()
    with pytest.raises(SourceError, match="no certificate with the declared fingerprint"):
        KeyRing().add(str(cert).encode(), "https://p.example/key.asc", fingerprint="ab" * 20)


def test_settings_resolve_key_and_ca_paths_against_the_project_file(tmp_path: Path) -> None:
    """`keys` and `ca_file` of a source, and smtp's `from`, come from patchorch.yml with paths made absolute."""
    project = tmp_path / "patchorch.yml"
    project.write_text(
        yaml.safe_dump(
            {
                "advisory_sources": [
                    {
                        "type": "csaf",
                        "name": "bsi",
                        "url": "https://p.example/pm.json",
                        "keys": ["k.asc"],
                        "ca_file": "ca.pem",
                    }
                ],
                "smtp": {"host": "127.0.0.1", "from": "patchorch@example.org"},
            }
        ),
        encoding="utf-8",
    )
    settings = load_settings(config_file=project, environ={})
    (source,) = settings.advisory_sources
    assert isinstance(source, CsafSource)
    assert (source.keys, source.ca_file) == ((tmp_path / "k.asc",), tmp_path / "ca.pem")
    assert settings.smtp is not None
    assert (settings.smtp.sender, settings.smtp.port, settings.smtp.security) == (
        "patchorch@example.org",
        25,
        "starttls",
    )


def test_unknown_source_type_is_a_settings_error_naming_the_field(tmp_path: Path) -> None:
    """A source whose type is not csaf, kev or osv is refused with the field named."""
    project = tmp_path / "patchorch.yml"
    project.write_text(yaml.safe_dump({"advisory_sources": [{"type": "rss", "url": "https://x.example"}]}), "utf-8")
    with pytest.raises(ConfigError, match=r"advisory_sources\.0"):
        load_settings(config_file=project, environ={})


def test_repeated_source_name_is_a_settings_error(tmp_path: Path) -> None:
    """Two sources with one name would share sync state: refused, naming the key and the name."""
    project = tmp_path / "patchorch.yml"
    project.write_text(yaml.safe_dump({"advisory_sources": [{"type": "kev"}, {"type": "kev"}]}), "utf-8")
    with pytest.raises(ConfigError, match=r"advisory_sources: .*repeated: \['cisa-kev'\]"):
        load_settings(config_file=project, environ={})
