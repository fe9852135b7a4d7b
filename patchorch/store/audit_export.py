"""Signed exports of the audit chain, kept where the database cannot rewrite them.

`export_audit` writes the chain's head (and optionally every record) signed with the operator's ed25519 key.
`verify_against` checks a store against such an export: the export's signature, the store's own chain and state rows,
then that the store still holds the exported head at its place. A store cut back to fewer records (truncation), or
whose chain was rebuilt from some record on (a rewritten head), no longer matches the export even when its own chain
verifies.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from patchorch.errors import AuditChainError, ConfigError, Problem
from patchorch.store._chain import canonical
from patchorch.store.runs import RunStore

EXPORT_FORMAT = "patchorch-audit-export/1"


class ExportedRecord(BaseModel):
    """One audit record as exported: its place and hash (its content is in the store; the hash proves it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    event: str
    at: str
    hash: str


class AuditExport(BaseModel):
    """The chain's head at export time, optionally its records, signed with an ed25519 key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = EXPORT_FORMAT
    exported_at: datetime
    exported_by: str
    head_seq: int
    head_hash: str
    records: tuple[ExportedRecord, ...] | None = None
    public_key: str
    signature: str = ""

    def signed_text(self) -> bytes:
        """What the signature covers: everything but the signature, as canonical JSON."""
        return canonical(self.model_dump(mode="json", exclude={"signature"})).encode("utf-8")


def _raw(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The operator's ed25519 private key from an OpenSSH or PEM (PKCS#8) file without a passphrase."""
    problem = _key_problem(path, private=True)
    try:
        data = path.read_bytes()
        key = (
            serialization.load_ssh_private_key(data, password=None)
            if data.lstrip().startswith(b"-----BEGIN OPENSSH")
            else serialization.load_pem_private_key(data, password=None)
        )
    except OSError as exc:
        raise problem(f"cannot be read ({exc.strerror})") from exc
    except TypeError as exc:  # cryptography's way of saying the key is encrypted
        raise problem("is protected by a passphrase") from exc
    except ValueError as exc:
        raise problem("is not a private key in OpenSSH or PEM form") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise problem(f"is a {type(key).__name__.removesuffix('PrivateKey') or 'non-ed25519'} key, not ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An ed25519 public key from an OpenSSH `.pub` line or a PEM file: the key an export must be signed with."""
    problem = _key_problem(path, private=False)
    try:
        data = path.read_bytes()
        key = (
            serialization.load_ssh_public_key(data)
            if data.lstrip().startswith(b"ssh-")
            else serialization.load_pem_public_key(data)
        )
    except OSError as exc:
        raise problem(f"cannot be read ({exc.strerror})") from exc
    except ValueError as exc:
        raise problem("is not a public key in OpenSSH or PEM form") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise problem("is not an ed25519 public key")
    return key


def _key_problem(path: Path, *, private: bool) -> Callable[[str], ConfigError]:
    field = "--key" if private else "--public-key"
    allowed = "an ed25519 key file (OpenSSH or PEM) without a passphrase" if private else "an ed25519 public key file"

    def problem(message: str) -> ConfigError:
        return ConfigError([Problem(message, file=str(path), field=field, allowed=allowed)])

    return problem


def export_audit(store: RunStore, key: Ed25519PrivateKey, *, with_records: bool = False) -> AuditExport:
    """Verify the store's chain, then sign its head (and its records' hashes when `with_records`) with `key`."""
    store.verify_audit()
    log = store.audit_log()
    head_seq, head_hash = (log[-1].seq, log[-1].hash) if log else (0, "0" * 64)
    unsigned = AuditExport(
        exported_at=store.now(),
        exported_by=store.actor,
        head_seq=head_seq,
        head_hash=head_hash,
        records=tuple(ExportedRecord(seq=r.seq, event=r.event, at=r.at.isoformat(), hash=r.hash) for r in log)
        if with_records
        else None,
        public_key=_raw(key.public_key()),
    )
    signature = base64.b64encode(key.sign(unsigned.signed_text())).decode()
    return unsigned.model_copy(update={"signature": signature})


def read_export(path: Path) -> AuditExport:
    """An export file; a ConfigError naming the file when it is not one."""
    try:
        return AuditExport.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError([Problem(f"cannot be read ({exc.strerror})", file=str(path), field="--against")]) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise ConfigError(
            [Problem(f"is not a patchorch audit export ({where}: {first['msg']})", file=str(path), field="--against")]
        ) from exc


def verify_against(store: RunStore, export: AuditExport, *, trusted_key: Ed25519PublicKey | None = None) -> int:
    """Check `store` against a signed export; the number of records, or AuditChainError naming the first mismatch."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(export.public_key))
        public.verify(base64.b64decode(export.signature), export.signed_text())
    except (InvalidSignature, ValueError) as exc:
        raise AuditChainError("the export's signature does not verify: the export was edited") from exc
    if trusted_key is not None and _raw(trusted_key) != export.public_key:
        raise AuditChainError("the export is signed by a different key than the trusted one")
    count = store.verify_audit()
    when = f"the export of {export.exported_at:%Y-%m-%d %H:%M:%S} UTC by {export.exported_by}"
    if count < export.head_seq:
        raise AuditChainError(
            f"the store has {count} audit records but {when} saw {export.head_seq}: "
            f"records {count + 1} to {export.head_seq} were removed",
            seq=count + 1,
        )
    hashes = {record.seq: record.hash for record in store.audit_log()}
    for record in export.records or ():
        if hashes.get(record.seq) != record.hash:
            raise AuditChainError(
                f"audit record {record.seq} differs from {when}: the chain was rewritten from there", seq=record.seq
            )
    if export.head_seq and hashes.get(export.head_seq) != export.head_hash:
        raise AuditChainError(
            f"audit record {export.head_seq} differs from {when}: the chain was rewritten", seq=export.head_seq
        )
    return count
