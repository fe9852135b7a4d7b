"""Version ordering of dpkg and rpm, the `VersionComparator` that advisory matching uses.

dpkg ordering comes from python-debian (`debian.debian_support.Version`, the algorithm of dpkg's `verrevcmp`).

rpm ordering is implemented here from rpm's documented algorithm (`rpmvercmp` in rpmio/rpmvercmp.c and the EVR rules of
`rpmverCmp`), because the pure-Python packages on PyPI were not acceptable: rpm-vercmp (last release 2018) predates the
caret `^` and treats a missing release as older; univers copies that code with caret support but still orders a
missing release as older than any release, splits the release at the first hyphen, drops non-ASCII characters rather
than treating them as separators, raises on a non-numeric epoch, and brings four more dependencies. The tests carry
rpm's own comparison table (tests/rpmvercmp.at) plus the EVR cases.

The rpm algorithm, as rpm documents it:

* Versions are split into segments of ASCII digits or ASCII letters; every other character only separates segments.
* `~` sorts before anything, even the end of the string (`1.0~rc1 < 1.0`); `^` sorts after the end of the string
  but before any further segment (`1.0 < 1.0^git1 < 1.0.1`).
* A numeric segment is newer than an alphabetic one; numbers compare by value (leading zeros ignored), letters by
  ASCII order; when all compared segments are equal the string with segments left over is newer.
* EVR: the epoch is the leading digits before a `:` (missing means 0), the release follows the last `-`. Epochs, then
  versions compare; releases compare only when both sides have one, so a fixed version `1.0` covers every `1.0-N`.
"""

from __future__ import annotations

from dataclasses import dataclass

from debian.debian_support import Version as DebianVersion

from patchorch.domain.advisory import Ecosystem

_MAX_VERSION = 200


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_alpha(char: str) -> bool:
    return "a" <= char <= "z" or "A" <= char <= "Z"


def _is_separator(char: str) -> bool:
    return not (_is_digit(char) or _is_alpha(char) or char in "~^")


def rpmvercmp(left: str, right: str) -> int:
    """rpm's segment comparison of two version (or release) strings: -1, 0 or 1."""
    if left == right:
        return 0
    one, two = left, right
    i = j = 0
    while i < len(one) or j < len(two):
        while i < len(one) and _is_separator(one[i]):
            i += 1
        while j < len(two) and _is_separator(two[j]):
            j += 1
        tilde_one = i < len(one) and one[i] == "~"
        tilde_two = j < len(two) and two[j] == "~"
        if tilde_one or tilde_two:
            if not tilde_one:
                return 1
            if not tilde_two:
                return -1
            i, j = i + 1, j + 1
            continue
        caret_one = i < len(one) and one[i] == "^"
        caret_two = j < len(two) and two[j] == "^"
        if caret_one or caret_two:
            # A caret loses to any further segment but beats the end of the string.
            if i >= len(one):
                return -1
            if j >= len(two):
                return 1
            if not caret_one:
                return 1
            if not caret_two:
                return -1
            i, j = i + 1, j + 1
            continue
        if i >= len(one) or j >= len(two):
            break
        start_one, start_two = i, j
        numeric = _is_digit(one[i])
        kind = _is_digit if numeric else _is_alpha
        while i < len(one) and kind(one[i]):
            i += 1
        while j < len(two) and kind(two[j]):
            j += 1
        if j == start_two:
            # Segments of different kinds: numeric is newer.
            return 1 if numeric else -1
        segment_one, segment_two = one[start_one:i], two[start_two:j]
        if numeric:
            segment_one, segment_two = segment_one.lstrip("0"), segment_two.lstrip("0")
            if len(segment_one) != len(segment_two):
                return 1 if len(segment_one) > len(segment_two) else -1
        if segment_one != segment_two:
            return 1 if segment_one > segment_two else -1
    if i >= len(one) and j >= len(two):
        return 0
    return -1 if i >= len(one) else 1


@dataclass(frozen=True)
class Evr:
    """An rpm epoch:version-release; epoch and release are None when the string has none."""

    epoch: str | None
    version: str
    release: str | None

    @classmethod
    def parse(cls, text: str) -> Evr:
        """Split `[epoch:]version[-release]` the way rpm does; ValueError for an empty or oversized version."""
        if not text or len(text) > _MAX_VERSION or any(c.isspace() for c in text):
            raise ValueError(f"not an rpm version: {text[:_MAX_VERSION]!r}")
        digits = 0
        while digits < len(text) and _is_digit(text[digits]):
            digits += 1
        epoch: str | None = None
        rest = text
        if digits < len(text) and text[digits] == ":":
            epoch = text[:digits] or "0"
            rest = text[digits + 1 :]
        version, dash, release = rest.rpartition("-")
        if not dash:
            version, release_or_none = rest, None
        else:
            release_or_none = release
        if not version:
            raise ValueError(f"not an rpm version: {text!r}")
        return cls(epoch=epoch, version=version, release=release_or_none)


def rpm_compare(left: str, right: str) -> int:
    """Order two rpm EVR strings: -1, 0 or 1."""
    one, two = Evr.parse(left), Evr.parse(right)
    result = rpmvercmp(one.epoch or "0", two.epoch or "0")
    if result == 0:
        result = rpmvercmp(one.version, two.version)
    if result == 0 and one.release is not None and two.release is not None:
        result = rpmvercmp(one.release, two.release)
    return result


def dpkg_compare(left: str, right: str) -> int:
    """Order two Debian versions (epoch, upstream, revision; `~` before anything): -1, 0 or 1."""
    for text in (left, right):
        if len(text) > _MAX_VERSION:
            raise ValueError(f"not a Debian version: {text[:_MAX_VERSION]!r}...")
    one, two = DebianVersion(left), DebianVersion(right)
    return -1 if one < two else (1 if one > two else 0)


class PackageVersions:
    """The `VersionComparator` for dpkg and rpm versions."""

    def compare(self, ecosystem: Ecosystem, left: str, right: str) -> int:
        """Negative, zero or positive; ValueError when either side is not a version of that ecosystem."""
        if ecosystem is Ecosystem.DEB:
            return dpkg_compare(left, right)
        if ecosystem is Ecosystem.RPM:
            return rpm_compare(left, right)
        raise ValueError(f"no version ordering for ecosystem {ecosystem!r}")
