"""The role's dnf and zypper paths in check mode, on a local host whose package managers answer with recorded output.

No rpm host is available to the tests: `dnf`, `zypper` and `needs-restarting` are stand-ins first on PATH that log
their argv and print output in those tools' formats (tests/fixtures/rpm). Check mode changes nothing, so the role
runs on this machine's own Python with ansible_connection=local.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from patchorch.domain.plan import HostSettings, PackageSpec, RolloutPlan, UpdateScope, UpdateSpec
from patchorch.rendering import render_run
from tests.role.ansible_run import BatchRun, run_batch
from tests.role.plans import FAST_CHECKS, one_batch_plan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rpm"
HOST = "rpm1"


def _fake(bin_dir: Path, log: Path, program: str, answers: dict[str, tuple[Path | None, int]]) -> None:
    """A `program` that logs its argv and answers each known argv with (recorded output, exit status)."""
    cases = "".join(
        f"    {shlex.quote(argv)}) {f'cat {shlex.quote(str(output))}; ' if output else ''}exit {status} ;;\n"
        for argv, (output, status) in answers.items()
    )
    script = bin_dir / program
    script.write_text(
        f'#!/bin/sh\necho "{program} $*" >> {shlex.quote(str(log))}\ncase "$*" in\n{cases}'
        f'    *) echo "{program}: unexpected arguments: $*" >&2; exit 9 ;;\nesac\n'
    )
    script.chmod(0o755)


def _run(
    tmp_path: Path,
    manager: str,
    answers: dict[str, dict[str, tuple[Path | None, int]]],
    plan: RolloutPlan | None = None,
) -> tuple[BatchRun, str]:
    bin_dir, log = tmp_path / "bin", tmp_path / "argv.log"
    bin_dir.mkdir()
    for program, program_answers in answers.items():
        _fake(bin_dir, log, program, program_answers)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        f"all:\n  hosts:\n    {HOST}:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n      patchorch_package_manager: {manager}\n"
    )
    (tmp_path / "role-vars.yml").write_text(FAST_CHECKS + "patchorch_patch_min_free_mb: 1\n")
    plan = plan or one_batch_plan((HOST,)).model_copy(update={"update": UpdateSpec(scope=UpdateScope.SECURITY)})
    rendered = render_run(
        plan, tmp_path / "run", inventory_sources=[inventory], extra_vars_from=tmp_path / "role-vars.yml"
    )
    run = run_batch(rendered, "canary", [HOST], tmp_path / "runner", check=True, path_prefix=bin_dir)
    return run, log.read_text() if log.exists() else ""


DNF_READS = {"--quiet makecache": (None, 0)}
ZYPPER_READS = {"--non-interactive --quiet refresh": (None, 0)}


def test_dnf_security_dry_run_reports_the_listed_updates(tmp_path: Path) -> None:
    """dnf check-update --security listing updates (exit 100) makes the dry run changed; nothing is installed."""
    run, argv = _run(
        tmp_path,
        "dnf",
        {
            "dnf": {**DNF_READS, "--quiet check-update --security": (FIXTURES / "dnf-check-update-security.txt", 100)},
            "needs-restarting": {"-r": (None, 1), "-s": (FIXTURES / "needs-restarting-s.txt", 0)},
        },
    )
    result = run.result(HOST)
    assert (result.check_mode, result.changed, result.failed_step) == (True, True, None)
    assert result.reboot_required
    # The prepare phase refreshes once and lists its targets; the apply phase lists them again without a refresh.
    assert argv.splitlines() == [
        "dnf --quiet makecache",
        "dnf --quiet check-update --security",
        "dnf --quiet check-update --security",
        "needs-restarting -r",
        "needs-restarting -s",
    ]
    assert result.services is not None
    assert (result.services.tool, result.services.stale, result.services.restarted) == (
        "needs-restarting",
        ("httpd.service", "sshd.service"),
        (),
    )


def test_dnf_dry_run_without_security_updates_changes_nothing(tmp_path: Path) -> None:
    """An empty check-update (exit 0) makes the dry run unchanged."""
    run, _ = _run(
        tmp_path,
        "dnf",
        {
            "dnf": {**DNF_READS, "--quiet check-update --security": (None, 0)},
            "needs-restarting": {"-r": (None, 0), "-s": (None, 0)},
        },
    )
    result = run.result(HOST)
    assert (result.changed, result.reboot_required, result.failed_step) == (False, False, None)


def test_zypper_security_dry_run_asks_for_security_patches_only(tmp_path: Path) -> None:
    """zypper is asked for the security category with --dry-run; patches to install make the dry run changed."""
    patch = "--non-interactive --no-refresh patch --category security --dry-run"  # after prepare: no refresh
    run, argv = _run(
        tmp_path,
        "zypper",
        {
            "zypper": {
                **ZYPPER_READS,
                patch: (FIXTURES / "zypper-patch-security-dry-run.txt", 0),
                "needs-rebooting": (None, 102),
                "--quiet ps -sss": (FIXTURES / "zypper-ps-sss.txt", 0),
            }
        },
    )
    result = run.result(HOST)
    assert (result.changed, result.reboot_required, result.failed_step) == (True, True, None)
    assert f"zypper {patch}" in argv.splitlines()
    assert result.services is not None
    assert (result.services.tool, result.services.stale) == ("zypper ps", ("nginx",))


def test_zypper_nothing_to_do_is_unchanged(tmp_path: Path) -> None:
    """`Nothing to do.` from the dry run means the host is up to date."""
    patch = "--non-interactive --no-refresh patch --category security --dry-run"  # after prepare: no refresh
    run, _ = _run(
        tmp_path,
        "zypper",
        {
            "zypper": {
                **ZYPPER_READS,
                patch: (FIXTURES / "zypper-nothing-to-do.txt", 0),
                "needs-rebooting": (None, 0),
                "--quiet ps -sss": (None, 0),
            }
        },
    )
    result = run.result(HOST)
    assert (result.changed, result.failed_step) == (False, None)


# A rollback goes back only for packages still installed, which package_facts reads from this machine's own dpkg
# database: the stand-ins are asked to downgrade `dpkg`, always installed here, to a version it does not have.
INSTALLED_HERE = "dpkg"


def _rollback_plan(version: str) -> RolloutPlan:
    settings = HostSettings(host=HOST, downgrade=(PackageSpec(name=INSTALLED_HERE, version=version),))
    update = UpdateSpec(scope=UpdateScope.ROLLBACK, rollback_of="20261207-090000-abcd")
    return one_batch_plan((HOST,)).model_copy(update={"update": update, "host_settings": (settings,)})


def test_dnf_rollback_dry_run_asks_dnf_to_install_the_exact_earlier_version(tmp_path: Path) -> None:
    """A rollback's dry run is `dnf --assumeno install NAME-VERSION` from the prepared cache; its transaction makes it
    changed, and dnf's answer no (exit 1) is not a failure."""
    install = f"--assumeno --cacheonly install {INSTALLED_HERE}-1.0-1.el9"
    run, argv = _run(
        tmp_path,
        "dnf",
        {
            "dnf": {**DNF_READS, install: (FIXTURES / "dnf-install-downgrade-assumeno.txt", 1)},
            "needs-restarting": {"-r": (None, 0), "-s": (None, 0)},
        },
        _rollback_plan("1.0-1.el9"),
    )
    result = run.result(HOST)
    assert (result.check_mode, result.changed, result.failed_step) == (True, True, None), result.message
    assert f"dnf {install}" in argv.splitlines()
    assert not any("check-update" in line for line in argv.splitlines())


def test_zypper_rollback_dry_run_installs_the_old_package_version(tmp_path: Path) -> None:
    """A rollback on zypper is `install --oldpackage NAME=VERSION`, here with --dry-run."""
    install = f"--non-interactive --no-refresh install --oldpackage {INSTALLED_HERE}=1.0-1 --dry-run"
    run, argv = _run(
        tmp_path,
        "zypper",
        {
            "zypper": {
                **ZYPPER_READS,
                install: (FIXTURES / "zypper-install-oldpackage-dry-run.txt", 0),
                "needs-rebooting": (None, 0),
                "--quiet ps -sss": (None, 0),
            }
        },
        _rollback_plan("1.0-1"),
    )
    result = run.result(HOST)
    assert (result.changed, result.failed_step) == (True, None), result.message
    assert f"zypper {install}" in argv.splitlines()


@pytest.mark.parametrize("listing", ["", "Last metadata expiration check: 0:00:01 ago on Mon 07 Dec 2026.\n"])
def test_dnf_listing_without_updates_is_empty(listing: str) -> None:
    """No package lines, or only dnf's metadata notice, lists nothing."""
    assert _filters().dnf_upgrades(listing) == {}


def test_dnf_listing_reads_names_versions_and_repositories() -> None:
    """name.arch, [epoch:]version-release and repository; the Obsoleting section is not read."""
    listing = (FIXTURES / "dnf-check-update-security.txt").read_text()
    assert _filters().dnf_upgrades(listing) == {
        "acme-mta": {"installed": "", "candidate": "1.0-2.el9", "origin": "acme-security"},
        "openssl-libs": {"installed": "", "candidate": "1:3.0.7-27.el9", "origin": "baseos"},
    }


def _filters():  # type: ignore[no-untyped-def]  # the role's filter plugin, loaded from its file like Ansible does
    import importlib.util

    from patchorch.rendering.render import CONTENT_DIR

    path = CONTENT_DIR / "roles" / "patchorch_patch" / "filter_plugins" / "patchorch_patch.py"
    spec = importlib.util.spec_from_file_location("patchorch_patch_filters", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
