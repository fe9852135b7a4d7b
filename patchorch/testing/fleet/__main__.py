"""`python -m patchorch.testing.fleet {create,status,destroy,fault,inventory}`: the test fleet's command line.

A thin adapter over `TestFleet`. Exit status: 0 done (status: every host ready), 1 the fleet failed or is not ready,
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from patchorch.testing.fleet._errors import FleetError
from patchorch.testing.fleet._fleet import DEFAULT_BASE_PORT, DEFAULT_NAME, DEFAULT_SIZE, Fault, TestFleet


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m patchorch.testing.fleet", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--name", default=DEFAULT_NAME, help="fleet name; containers are <name>-<host>")
    common.add_argument(
        "--dir", type=Path, default=None, help="state directory (default: $PATCHORCH_FLEET_DIR or .fleet/<name>)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", parents=[common], help="build the image if needed and start the hosts")
    create.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"number of hosts (default {DEFAULT_SIZE})")
    create.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT, help="ssh on base+i, health on base+1000+i")
    create.add_argument("--reboot-downtime", type=float, default=3.0, help="seconds a rebooting host stays down")
    create.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for every host to answer SSH")

    status = commands.add_parser("status", parents=[common], help="show every host's container, SSH and health")
    status.add_argument("--json", action="store_true", help="print JSON")

    commands.add_parser("destroy", parents=[common], help="remove the fleet's containers (by label) and its state")

    fault = commands.add_parser("fault", parents=[common], help="set or clear a fault on one host")
    fault.add_argument("host")
    fault.add_argument("mode", choices=[*(f.value for f in Fault), "clear"])
    fault.add_argument("--seconds", type=int, default=3, help="delay of the slow fault (default 3)")

    inventory = commands.add_parser("inventory", parents=[common], help="print the fleet's Ansible inventory")
    inventory.add_argument("--path", action="store_true", help="print only the inventory's path")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "create":
        fleet = TestFleet(
            args.name,
            args.size,
            base_port=args.base_port,
            state_dir=args.dir,
            reboot_downtime=args.reboot_downtime,
            ready_timeout=args.timeout,
        )
        report = fleet.create()
        image = report.image
        built = f"debootstrap {image.debootstrap_seconds:.1f}s, " if image.debootstrapped else ""
        how = f"built ({built}import {image.import_seconds:.1f}s)" if image.imported else "cached"
        print(f"image {image.tag}: {how}")
        print(
            f"fleet {fleet.name}: {len(fleet.hosts)} hosts ready in {report.seconds:.1f}s "
            f"(started {len(report.started)}, reused {len(report.reused)}, removed {len(report.removed)})"
        )
        print(f"inventory {fleet.inventory_path}")
        return 0
    if args.command == "destroy":
        removed = TestFleet(args.name, state_dir=args.dir).destroy()
        print(f"fleet {args.name}: removed {len(removed)} containers")
        return 0
    fleet = TestFleet.load(args.name, args.dir)
    if args.command == "status":
        status = fleet.status()
        if args.json:
            print(json.dumps(asdict(status) | {"ready": status.ready}, indent=2))
        else:
            for host in status.hosts:
                health = "-" if host.health_status is None else str(host.health_status)
                print(
                    f"{host.name:<10} {host.state:<8} ssh={'up' if host.ssh else 'down':<4} health={health:<4} "
                    f"acme-mta={host.version or '-':<6} faults={','.join(host.faults) or '-'}"
                )
            for stray in status.strays:
                print(f"{stray}: labelled for this fleet but no host of it")
            print(f"fleet {fleet.name}: {'ready' if status.ready else 'NOT ready'}")
        return 0 if status.ready else 1
    if args.command == "fault":
        if args.mode == "clear":
            fleet.clear_fault(args.host)
        else:
            fleet.set_fault(args.host, Fault(args.mode), args.seconds)
        print(f"{args.host}: {args.mode}")
        return 0
    if args.command == "inventory":
        print(fleet.inventory_path if args.path else fleet.inventory_path.read_text(), end="\n" if args.path else "")
        return 0
    raise AssertionError(args.command)  # argparse only accepts the commands above


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except FleetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
