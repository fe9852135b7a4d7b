"""Text from outside (advisory, policy reasons, risk classes) cannot become something Ansible evaluates.

Renders a plan whose advisory, stage reason and per-host reason and risk class hold injection payloads, runs it on a
real test host, and proves that nothing executed and the play structure is what the plan says.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from patchorch.testing.fleet import TestFleet
from tests.role.ansible_run import run_batch
from tests.role.plans import render_for

pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("fresh_hosts")]


def _payloads(marker: str) -> dict[str, str]:
    return {
        "jinja": f"{{{{ lookup('pipe', 'touch {marker}') }}}}",
        "new play": f"x\n- hosts: all\n  tasks:\n    - ansible.builtin.command: touch {marker}\n",
        "python tag": f"!!python/object/apply:os.system ['touch {marker}']",
        "quotes": f"'\"{{% raw %}}'\" {{{{ lookup('pipe', 'touch {marker}') }}}} {{% endraw %}}\"'",
        "statement": f"{{% for x in [lookup('pipe', 'touch {marker}')] %}}{{% endfor %}}",
    }


def test_payloads_in_plan_text_are_never_evaluated(test_fleet: TestFleet, tmp_path: Path) -> None:
    """Advisory, reasons and risk class full of payloads run as plain text: no marker file anywhere, same plays."""
    from tests.role.plans import one_batch_plan

    marker = f"/tmp/pwned-{uuid.uuid4().hex}"
    payloads = _payloads(marker)
    text = "\n".join(payloads.values())
    plan = one_batch_plan(("imap1",), advisory=text, reason=text)
    stage = plan.stages[0].model_copy(update={"reason": text})
    hosts = (plan.hosts[0].model_copy(update={"risk_class": payloads["python tag"]}),)
    plan = plan.model_copy(update={"stages": (stage,), "hosts": hosts})

    rendered = render_for(test_fleet, plan, tmp_path)
    plays = yaml.safe_load(rendered.stage_playbook("canary").read_text())
    run = run_batch(rendered, "canary", ["imap1"], tmp_path / "private")

    assert not Path(marker).exists()
    assert test_fleet.exec("imap1", "test", "-e", marker, check=False).returncode != 0
    assert [(p["hosts"], p["vars"]["patchorch_hosts"]) for p in plays] == [
        ("{{ patchorch_hosts }}", "patchorch_canary_all"),
        ("localhost", "patchorch_canary_all"),
    ]
    assert run.plays == ["Patch canary", "Gate after canary"]
    shown = run.task_results["imap1"]["Show what this host is patched for"]["msg"]
    assert (shown["advisory"], shown["why"]) == (text, text)
    assert run.result("imap1").failed_step is None
