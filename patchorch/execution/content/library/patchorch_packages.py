#!/usr/bin/python
"""Ansible module: list installed packages (name, version, architecture, source package) and the OS CPE the host
publishes, without changing anything.

Shipped with patchorch and used only by its read-only facts play. Uses dpkg-query on Debian-like systems and rpm on
RPM-based ones, so the source package is known where the distribution has one. The OS CPE is `CPE_NAME` of
os-release(5) (/etc/os-release, else /usr/lib/os-release): RHEL, Rocky, AlmaLinux, Fedora and SLES set it; Debian and
Ubuntu do not ('' then).
"""

from __future__ import annotations

import shlex
import shutil

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: patchorch_packages
short_description: List installed packages with their source packages (read-only)
description: Runs dpkg-query or rpm and returns one entry per installed package, and CPE_NAME of os-release.
options: {}
"""

_OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")

_DPKG_FORMAT = "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${db:Status-Abbrev}\n"
_RPM_FORMAT = "%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n"


def _dpkg(module):
    rc, out, err = module.run_command(["dpkg-query", "-W", "-f", _DPKG_FORMAT])
    if rc != 0:
        module.fail_json(msg="dpkg-query failed: " + err.strip())
    packages = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 5 or not parts[4].startswith("ii"):
            continue  # only fully installed packages
        name, version, arch, source, _status = parts
        packages.append({"name": name, "version": version, "arch": arch, "source": source or name})
    return packages


def _rpm(module):
    rc, out, err = module.run_command(["rpm", "-qa", "--qf", _RPM_FORMAT])
    if rc != 0:
        module.fail_json(msg="rpm failed: " + err.strip())
    packages = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        name, version, arch, source_rpm = parts
        if version.startswith("0:"):
            version = version[2:]
        # foo-1.2-3.el9.src.rpm -> foo
        source = source_rpm.rsplit("-", 2)[0] if source_rpm and source_rpm != "(none)" else name
        packages.append({"name": name, "version": version, "arch": arch, "source": source})
    return packages


def _os_cpe_name():
    """CPE_NAME of the first os-release file that exists, unquoted as a shell would; '' when none sets it."""
    for path in _OS_RELEASE:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read(65536).splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.strip().partition("=")
            if sep and key == "CPE_NAME":
                try:
                    return " ".join(shlex.split(value))
                except ValueError:
                    return ""
        return ""
    return ""


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    if shutil.which("dpkg-query"):
        manager, packages = "dpkg", _dpkg(module)
    elif shutil.which("rpm"):
        manager, packages = "rpm", _rpm(module)
    else:
        module.fail_json(msg="neither dpkg-query nor rpm is installed")
    packages.sort(key=lambda p: (p["name"], p["arch"]))
    module.exit_json(changed=False, manager=manager, os_cpe_name=_os_cpe_name(), packages=packages)


if __name__ == "__main__":
    main()
