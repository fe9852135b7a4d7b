"""OpenPGP signatures of CSAF documents, verified with Sequoia (PyPI `pysequoia`, a real OpenPGP implementation).

A `KeyRing` holds the certificates a provider's documents may be signed with; `verify_detached` accepts a document
only when its detached signature verifies against one of them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pysequoia

from patchorch.errors import SourceError


def _first_line(exc: BaseException) -> str:
    # Sequoia's messages carry a Rust backtrace after the first line.
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class KeyRing:
    """Certificates trusted for one source."""

    def __init__(self, certificates: Iterable[pysequoia.Cert] = ()) -> None:
        self._certs = list(certificates)

    def __len__(self) -> int:
        return len(self._certs)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """The primary-key fingerprints of the certificates, lower-case hex."""
        return tuple(cert.fingerprint.lower() for cert in self._certs)

    def add(self, data: bytes, origin: str, *, fingerprint: str | None = None) -> tuple[str, ...]:
        """Add the certificates in `data` (armored or binary); when `fingerprint` is given, one must have it."""
        try:
            certs = pysequoia.Cert.split_bytes(data)
        except Exception as exc:  # Sequoia raises its own untyped errors for any malformed input
            raise SourceError(f"{origin}: not an OpenPGP certificate: {_first_line(exc)}", url=origin) from None
        if not certs:
            raise SourceError(f"{origin}: no OpenPGP certificate in it", url=origin)
        if fingerprint is not None:
            wanted = fingerprint.lower().replace(" ", "")
            certs = [cert for cert in certs if cert.fingerprint.lower() == wanted]
            if not certs:
                raise SourceError(f"{origin}: no certificate with the declared fingerprint {wanted}", url=origin)
        self._certs.extend(certs)
        return tuple(cert.fingerprint.lower() for cert in certs)

    def only(self, fingerprints: Iterable[str]) -> KeyRing:
        """The certificates whose fingerprint is one of `fingerprints`."""
        wanted = {item.lower() for item in fingerprints}
        return KeyRing(cert for cert in self._certs if cert.fingerprint.lower() in wanted)

    def verify_detached(self, data: bytes, signature: bytes, url: str) -> None:
        """SourceError unless `signature` is a valid detached signature over `data` by one of the certificates."""
        if not self._certs:
            raise SourceError(f"{url}: no trusted OpenPGP key to verify the signature with", url=url)
        try:
            sig = pysequoia.Sig.from_bytes(signature)
        except Exception as exc:  # Sequoia's parse errors are untyped
            raise SourceError(f"{url}: signature is not OpenPGP: {_first_line(exc)}", url=url) from None
        certs = list(self._certs)
        try:
            result = pysequoia.verify(bytes=data, store=lambda _ids: certs, signature=sig)
        except Exception as exc:  # verification failure is a RuntimeError carrying Sequoia's reason
            raise SourceError(f"{url}: OpenPGP signature does not verify: {_first_line(exc)}", url=url) from None
        if not result.valid_sigs:
            raise SourceError(f"{url}: OpenPGP signature does not verify", url=url)
