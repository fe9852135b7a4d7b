"""A real HTTPS server on 127.0.0.1 with a test CA, serving advisory sources the tests build.

`TestCA` makes a CA and a server certificate for 127.0.0.1 with `cryptography`; `AdvisoryServer` serves an in-memory
tree of files over TLS from a thread, answers conditional requests with 304, can be told to fail paths with 500, and
logs every request so tests can prove what was (not) downloaded. `CsafProvider` lays out a CSAF 2.0 trusted provider
(provider-metadata.json, its OpenPGP key, a directory distribution with changes.csv, documents with .sha512 and .asc)
signed with a key made by Sequoia.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import ipaddress
import json
import ssl
import threading
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pysequoia
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "advisories"


class TestCA:
    """A certificate authority made for one test session, and a server certificate it signed for 127.0.0.1."""

    __test__ = False  # not a test class

    def __init__(self, directory: Path) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchorch test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self.cert_file = directory / "server.pem"
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file = directory / "server.key"
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting the certificate for 127.0.0.1."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(frozen=True)
class Request:
    """One request the server saw."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int


class AdvisoryServer:
    """An HTTPS file server on 127.0.0.1 (a free port) serving `files`; every request is logged."""

    def __init__(self, ca: TestCA) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.etags = True  # False: answer with Last-Modified only, and honour If-Modified-Since
        self.modified: dict[str, str] = {}
        self.failing: set[str] = set()
        self.log: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real providers do: one TLS handshake per connection
            disable_nagle_algorithm = True  # headers and body are two writes; do not wait for delayed ACKs between

            def do_GET(self) -> None:
                status, body, headers = server._answer(
                    self.path, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request log above is the record

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.socket = ca.server_context().wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> AdvisoryServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def url(self, path: str) -> str:
        """The https:// URL of a path on this server."""
        return f"https://127.0.0.1:{self.port}{path}"

    def _answer(
        self, path: str, if_none_match: str | None, if_modified_since: str | None
    ) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            body = self.files.get(path)
            if path in self.failing:
                status, body, headers = 500, b"server error", {}
            elif path in self.redirects:
                status, body, headers = 302, b"", {"Location": self.redirects[path]}
            elif body is None:
                status, body, headers = 404, b"not found", {}
            else:
                digest = hashlib.sha256(body).hexdigest()
                if self.etags:
                    etag = '"' + digest[:16] + '"'
                    headers = {"ETag": etag, "Content-Type": "application/json"}
                    status = 304 if if_none_match == etag else 200
                else:  # Last-Modified only: a date that changes whenever the content does
                    stamp = self.modified.setdefault(digest, f"Sat, {len(self.modified) + 1:02d} Nov 2026 10:00:00 GMT")
                    headers = {"Last-Modified": stamp, "Content-Type": "application/json"}
                    status = 304 if if_modified_since == stamp else 200
                if status == 304:
                    body = b""
            self.log.append(Request(path, if_none_match, if_modified_since, status))
            return status, body, headers

    def requested(self, path: str, status: int | None = None) -> int:
        """How many requests for `path` (with `status`, when given) the server answered."""
        return sum(1 for r in self.log if r.path == path and (status is None or r.status == status))

    def clear_log(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.log.clear()


def csaf_document(tracking_id: str, version: int = 1) -> dict[str, Any]:
    """The fixture CSAF advisory as `tracking_id` at revision `version` (one revision-history entry per version)."""
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "csaf-acme-mta.json").read_text(encoding="utf-8")))
    tracking = data["document"]["tracking"]
    tracking["id"] = tracking_id
    dates = [f"2026-11-{19 + number:02d}T09:30:00.000+00:00" for number in range(version)]
    tracking["revision_history"] = [
        {"date": date, "number": str(number), "summary": f"Revision {number}"}
        for number, date in enumerate(dates, start=1)
    ]
    tracking["initial_release_date"] = dates[0]
    tracking["current_release_date"] = dates[-1]
    tracking["generator"]["date"] = dates[-1]
    tracking["version"] = str(version)
    if version > 1:  # a later revision says something new, so importing it updates the advisory
        data["document"]["title"] += f" (revision {version})"
    for reference in data["document"].get("references", []):
        if reference.get("category") == "self":
            reference["summary"] = f"{tracking_id} - CSAF Version"
            reference["url"] = f"https://example.org/.well-known/csaf/white/2026/{tracking_id.lower()}.json"
    return data


def encoded(data: Any) -> bytes:
    """JSON bytes of a document."""
    return json.dumps(data, indent=1).encode("utf-8")


class CsafProvider:
    """A CSAF trusted provider laid out on an AdvisoryServer under `/<prefix>/`, signing with its own OpenPGP key."""

    def __init__(self, server: AdvisoryServer, prefix: str = "bsi", *, rolie: bool = False) -> None:
        self.server = server
        self.prefix = prefix
        self.rolie = rolie
        self.key = pysequoia.Tsk.generate(f"{prefix} CSAF <csaf@{prefix}.example>")
        self.cert = self.key.extract_certificate()
        self.fingerprint = self.cert.fingerprint
        self.stamps: dict[str, str] = {}
        self.metadata_path = f"/{prefix}/.well-known/csaf/provider-metadata.json"
        self.directory = f"/{prefix}/.well-known/csaf/white/"
        server.files[f"/{prefix}/openpgp/key.asc"] = str(self.cert).encode("ascii")
        self.write_metadata()
        self._write_listing()

    @property
    def metadata_url(self) -> str:
        """The URL patchorch.yml names for this provider."""
        return self.server.url(self.metadata_path)

    def write_metadata(self, **changes: Any) -> None:
        """provider-metadata.json naming the key and the directory (or ROLIE feed) distribution."""
        distribution: dict[str, Any] = (
            {"rolie": {"feeds": [{"tlp_label": "WHITE", "url": self.server.url(self.directory + "feed-white.json")}]}}
            if self.rolie
            else {"directory_url": self.server.url(self.directory)}
        )
        metadata = {
            "canonical_url": self.metadata_url,
            "distributions": [distribution],
            "last_updated": "2026-11-22T10:00:00.000Z",
            "list_on_CSAF_aggregators": True,
            "metadata_version": "2.0",
            "mirror_on_CSAF_aggregators": True,
            "public_openpgp_keys": [
                {"fingerprint": self.fingerprint.upper(), "url": self.server.url(f"/{self.prefix}/openpgp/key.asc")}
            ],
            "publisher": {"category": "coordinator", "name": self.prefix, "namespace": "https://example.org"},
            "role": "csaf_trusted_provider",
            **changes,
        }
        self.server.files[self.metadata_path] = encoded(metadata)

    def publish(
        self,
        name: str,
        body: bytes,
        stamp: str,
        *,
        signer: pysequoia.Tsk | None = None,
        digest: str | None = None,
        algorithm: str = "sha512",
        signed: bool = True,
    ) -> str:
        """Put a document with its hash file (.sha512 unless told) and .asc into the distribution and list it."""
        path = self.directory + "2026/" + name
        files = self.server.files
        files[path] = body
        for old in (".sha512", ".sha256", ".asc"):
            files.pop(path + old, None)
        files[path + "." + algorithm] = f"{digest or hashlib.new(algorithm, body).hexdigest()}  {name}\n".encode()
        if signed:
            signer_key = signer or self.key
            files[path + ".asc"] = pysequoia.sign(signer_key.signer(), body, mode=pysequoia.SignatureMode.DETACHED)
        self.stamps[path] = stamp
        self._write_listing()
        return path

    def _write_listing(self) -> None:
        ordered = sorted(self.stamps.items(), key=lambda item: item[1], reverse=True)
        if self.rolie:
            entries = [
                {
                    "id": path.rsplit("/", 1)[-1],
                    "title": path.rsplit("/", 1)[-1],
                    "link": [
                        {"rel": "self", "href": self.server.url(path)},
                        {"rel": "hash", "href": self.server.url(path + ".sha512")},
                        {"rel": "signature", "href": self.server.url(path + ".asc")},
                    ],
                    "published": stamp,
                    "updated": stamp,
                    "content": {"type": "application/json", "src": self.server.url(path)},
                    "format": {"schema": "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"},
                }
                for path, stamp in ordered
            ]
            feed = {"feed": {"id": "white", "title": "white", "updated": "2026-11-22T10:00:00Z", "entry": entries}}
            self.server.files[self.directory + "feed-white.json"] = encoded(feed)
        else:
            lines = [f'"{path.removeprefix(self.directory)}","{stamp}"' for path, stamp in ordered]
            self.server.files[self.directory + "changes.csv"] = ("\n".join(lines) + "\n").encode("utf-8")


def osv_record(record_id: str, modified: str, fixed: str = "1.0-2") -> bytes:
    """The fixture OSV record as `record_id`, modified at `modified`, fixed in `fixed`."""
    data = json.loads((FIXTURES / "osv-dsa-acme-mta.json").read_text(encoding="utf-8"))
    data["id"] = record_id
    data["modified"] = modified
    data["affected"][0]["ranges"][0]["events"][1]["fixed"] = fixed
    return encoded(data)


def publish_osv(server: AdvisoryServer, ecosystem: str, records: dict[str, tuple[str, bytes]]) -> None:
    """An OSV export of `ecosystem` under /osv/: all.zip, modified_id.csv and one <id>.json per record."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for record_id, (_, body) in records.items():
            archive.writestr(f"{record_id}.json", body)
            server.files[f"/osv/{ecosystem}/{record_id}.json"] = body
    server.files[f"/osv/{ecosystem}/all.zip"] = buffer.getvalue()
    lines = [f"{modified},{record_id}" for record_id, (modified, _) in sorted(records.items(), key=lambda i: i[1][0])]
    server.files[f"/osv/{ecosystem}/modified_id.csv"] = ("\n".join(reversed(lines)) + "\n").encode("utf-8")
