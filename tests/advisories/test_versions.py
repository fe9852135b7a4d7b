"""dpkg and rpm version ordering used by advisory matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchorch.domain.advisory import Ecosystem
from patchorch.sources.versions import Evr, PackageVersions, dpkg_compare, rpm_compare, rpmvercmp

DPKG = [
    ("1:1.0", "2.0", 1),  # the epoch wins
    ("1.0~rc1", "1.0", -1),  # tilde sorts before the end
    ("1.0-1", "1.0-2", -1),  # Debian revision
    ("1.0+b1", "1.0", 1),  # binNMU is newer
    ("1.0", "1.0", 0),
    ("1.0-2", "1.0-10", -1),  # numeric, not lexical
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~~", "1.0~", -1),
    ("0.9-3+deb11u1", "0.9-3", 1),
    ("2.0", "10.0", -1),
    ("1.0a", "1.0", 1),
    ("0:1.0", "1.0", 0),
]

# rpm's own table (rpm-software-management/rpm tests/rpmvercmp.at), tilde and caret cases included.
RPMVERCMP = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1a", 0), ("2.0.1a", "2.0.1", 1), ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p1", 0), ("5.5p1", "5.5p2", -1), ("5.5p2", "5.5p1", 1),
    ("5.5p10", "5.5p10", 0), ("5.5p1", "5.5p10", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("10.1xyz", "10xyz", 1),
    ("xyz10", "xyz10", 0), ("xyz10", "xyz10.1", -1), ("xyz10.1", "xyz10", 1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("8", "xyz.4", 1), ("xyz.4", "2", -1), ("2", "xyz.4", 1),
    ("5.5p2", "5.6p1", -1), ("5.6p1", "5.5p2", 1),
    ("5.6p1", "6.5p1", -1), ("6.5p1", "5.6p1", 1),
    ("6.0.rc1", "6.0", 1), ("6.0", "6.0.rc1", -1),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1), ("1.0aa", "1.0a", 1),
    ("10.0001", "10.0001", 0), ("10.0001", "10.1", 0), ("10.1", "10.0001", 0),
    ("10.0001", "10.0039", -1), ("10.0039", "10.0001", 1),
    ("4.999.9", "5.0", -1), ("5.0", "4.999.9", 1),
    ("20101121", "20101121", 0), ("20101121", "20101122", -1), ("20101122", "20101121", 1),
    ("2_0", "2_0", 0), ("2.0", "2_0", 0), ("2_0", "2.0", 0),
    ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("a_", "a+", 0),
    ("+a", "+a", 0), ("+a", "_a", 0), ("_a", "+a", 0),
    ("+_", "+_", 0), ("_+", "+_", 0), ("_+", "_+", 0), ("+", "_", 0), ("_", "+", 0),
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc2", "1.0~rc1", 1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0), ("1.0~rc1~git123", "1.0~rc1", -1), ("1.0~rc1", "1.0~rc1~git123", 1),
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git1", 0), ("1.0^git1", "1.0", 1), ("1.0", "1.0^git1", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git2", "1.0^git1", 1),
    ("1.0^git1", "1.01", -1), ("1.01", "1.0^git1", 1),
    ("1.0^20160101", "1.0^20160101", 0), ("1.0^20160101", "1.0.1", -1), ("1.0.1", "1.0^20160101", 1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0),
    ("1.0^20160102", "1.0^20160101^git1", 1), ("1.0^20160101^git1", "1.0^20160102", -1),
    ("1.0~rc1^git1", "1.0~rc1^git1", 0), ("1.0~rc1^git1", "1.0~rc1", 1), ("1.0~rc1", "1.0~rc1^git1", -1),
    ("1.0^git1~pre", "1.0^git1~pre", 0), ("1.0^git1", "1.0^git1~pre", 1), ("1.0^git1~pre", "1.0^git1", -1),
    # Non-ASCII characters only separate segments, as in rpm.
    ("1.1.α", "1.1.β", 0),
]  # fmt: skip

RPM_EVR = [
    ("1:1.0-1", "2.0-1", 1),  # epoch first
    ("0:1.0-1", "1.0-1", 0),  # missing epoch is 0
    ("1.0-1.el9", "1.0-2.el9", -1),  # release
    ("1.0-2.el9", "1.0", 0),  # a fixed version without release covers every release
    ("1.0-1.el9_3", "1.0-1.el9", 1),
    ("2.3.4-10.el9", "2.3.4-9.el9", 1),
    ("1.0~rc1-1", "1.0-1", -1),
    ("1.0^git1-1", "1.0-1", 1),
    ("a:1.0-1", "a:1.0-1", 0),  # not an epoch: part of the version, as rpm reads it
]


@pytest.mark.parametrize(("left", "right", "expected"), DPKG)
def test_dpkg_ordering(left: str, right: str, expected: int) -> None:
    """Debian versions order by epoch, upstream version with ~, then revision."""
    assert dpkg_compare(left, right) == expected
    assert dpkg_compare(right, left) == -expected


@pytest.mark.parametrize(("left", "right", "expected"), RPMVERCMP)
def test_rpmvercmp_table(left: str, right: str, expected: int) -> None:
    """rpmvercmp agrees with rpm's own test table."""
    assert rpmvercmp(left, right) == expected


@pytest.mark.parametrize(("left", "right", "expected"), RPM_EVR)
def test_rpm_evr_ordering(left: str, right: str, expected: int) -> None:
    """EVR: epoch, then version, then release when both have one."""
    assert rpm_compare(left, right) == expected
    assert rpm_compare(right, left) == -expected


def test_evr_split_at_last_hyphen() -> None:
    """The release follows the last hyphen; the epoch is leading digits before a colon."""
    assert Evr.parse("2:1.0-rc-3.el9") == Evr(epoch="2", version="1.0-rc", release="3.el9")
    assert Evr.parse("1.0") == Evr(epoch=None, version="1.0", release=None)
    assert Evr.parse(":1.0-1") == Evr(epoch="0", version="1.0", release="1")


@pytest.mark.parametrize("bad", ["", "1.0 2", "x" * 300, "-1"])
def test_rpm_refuses_non_versions(bad: str) -> None:
    """An empty, spaced, oversized or version-less string is a ValueError, not an ordering."""
    with pytest.raises(ValueError, match="rpm version"):
        rpm_compare(bad, "1.0")


@pytest.mark.parametrize("bad", ["", "a:b", "1.0 2", "x" * 300])
def test_dpkg_refuses_non_versions(bad: str) -> None:
    """An invalid Debian version is a ValueError."""
    with pytest.raises(ValueError, match="version"):
        dpkg_compare(bad, "1.0")


_VERSIONS = st.text(alphabet="0123456789abcAB.~^+_-:", min_size=1, max_size=12)


@given(_VERSIONS, _VERSIONS)
def test_rpmvercmp_is_antisymmetric(left: str, right: str) -> None:
    """Swapping the sides negates the result."""
    assert rpmvercmp(left, right) == -rpmvercmp(right, left)


@given(_VERSIONS, _VERSIONS, _VERSIONS)
def test_rpmvercmp_is_transitive(a: str, b: str, c: str) -> None:
    """a <= b and b <= c imply a <= c."""
    if rpmvercmp(a, b) <= 0 and rpmvercmp(b, c) <= 0:
        assert rpmvercmp(a, c) <= 0


@given(st.sampled_from(list(Ecosystem)), st.text(max_size=30), st.text(max_size=30))
def test_comparator_orders_or_refuses(ecosystem: Ecosystem, left: str, right: str) -> None:
    """Any strings give an ordering or a ValueError, never another exception."""
    try:
        result = PackageVersions().compare(ecosystem, left, right)
    except ValueError:
        return
    assert result in (-1, 0, 1)
