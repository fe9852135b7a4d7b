"""An emergency rollout from a script: plan, run, watch every host, and decide on the result.

    python examples/emergency_rollout.py INVENTORY [POLICY]

State goes to $PATCHORCH_STATE_DIR (default .patchorch). Exit status 0 when every host is patched.
"""

from __future__ import annotations

import os
import sys

import patchorch


class PrintOutcomes(patchorch.Observer):
    """Print one line per host as each batch finishes."""

    def batch_finished(self, run_id: str, stage: patchorch.Stage, outcome: patchorch.BatchOutcome) -> None:
        for host in outcome.outcomes:
            before = host.versions_before.get("acme-mta", "?")
            after = host.versions_after.get("acme-mta", "?")
            print(f"{stage.name:<24} {host.host:<10} {host.status.value:<11} acme-mta {before} -> {after}")


def main() -> int:
    inventory = sys.argv[1]
    policy = sys.argv[2] if len(sys.argv) > 2 else None
    workspace = patchorch.Workspace.open(
        os.environ.get("PATCHORCH_STATE_DIR", ".patchorch"), observers=[PrintOutcomes()]
    )
    update = patchorch.UpdateSpec(
        scope=patchorch.UpdateScope.PACKAGES, packages=(patchorch.PackageSpec(name="acme-mta"),)
    )
    plan = workspace.plan([inventory], policy=policy, emergency=True, update=update)
    print(f"plan {plan.content_hash[:12]}: {len(plan.targets)} hosts in {len(plan.stages)} stages")
    report = workspace.start(plan, inventory=[inventory])
    print(f"run {report.run_id}: {report.state.value} {report.reason}")
    if report.failed_hosts:
        print("failed:", ", ".join(report.failed_hosts))
    return 0 if report.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
