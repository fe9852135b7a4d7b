"""`audit export` signs the chain's head with the operator's ed25519 key; `audit verify --against` catches a store cut
back or rewritten since, and an export that was edited or signed by someone else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from patchorch.cli._app import main
from patchorch.domain.run import RunInputs
from patchorch.orchestrator.workspace import Workspace
from patchorch.store._chain import record_hash
from patchorch.store.runs import audit, audit_head
from patchorch.testing import FakeClock
from tests.plans import make_plan


def _key_files(directory: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = directory / name
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    )
    public = directory / f"{name}.pub"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    )
    return private, public


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, Workspace]:
    """A state directory with one run and a closing note (an audit record that writes no state row)."""
    state = tmp_path / "state"
    workspace = Workspace.open(state, actor="ops@bastion", clock=FakeClock())
    workspace.store.create_run("r1", make_plan([[["a"]]]), RunInputs())
    workspace.store.note("r1", "operator-note", {"text": "handover"})
    return state, workspace


@pytest.fixture
def exported(recorded: tuple[Path, Workspace], tmp_path: Path) -> tuple[Path, Workspace, Path, Path]:
    """`recorded`, exported with --records and signed with a fresh key; (state, workspace, export, public key)."""
    state, workspace = recorded
    private, public = _key_files(tmp_path, "ops_ed25519")
    export = tmp_path / "head.json"
    argv = ["--state-dir", str(state), "audit", "export", "--key", str(private), "-o", str(export), "--records"]
    assert main(argv) == 0
    return state, workspace, export, public


def _verify(state: Path, export: Path, *extra: str) -> int:
    return main(["--state-dir", str(state), "audit", "verify", "--against", str(export), *extra])


def test_untouched_store_verifies_against_its_export(
    exported: tuple[Path, Workspace, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The export's head is still in the store, signed by the given key: exit 0."""
    state, _, export, public = exported
    assert _verify(state, export, "--public-key", str(public)) == 0
    assert "audit chain intact: 2 record(s), holding the head of" in capsys.readouterr().out


def test_truncated_store_fails_against_its_export(
    exported: tuple[Path, Workspace, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Cutting the last record and moving the head back verifies on its own but not against the export."""
    state, workspace, export, _ = exported
    with workspace.store.engine.begin() as conn:
        first = conn.execute(select(audit.c.hash).where(audit.c.seq == 1)).scalar_one()
        conn.execute(delete(audit).where(audit.c.seq == 2))
        conn.execute(update(audit_head).values(seq=1, hash=first))
    assert main(["--state-dir", str(state), "audit", "verify"]) == 0
    assert _verify(state, export) == 1
    assert "records 2 to 2 were removed" in capsys.readouterr().err


def test_rewritten_head_fails_against_its_export(
    exported: tuple[Path, Workspace, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A last record rewritten with a correctly recomputed hash and head is caught by the exported head."""
    state, workspace, export, _ = exported
    with workspace.store.engine.begin() as conn:
        row = conn.execute(select(audit).where(audit.c.seq == 2)).one()
        data = json.dumps({"text": "nothing happened"})
        forged = record_hash(row.prev_hash, 2, row.run_id, row.at, row.actor, row.event, data, row.state_json)
        conn.execute(update(audit).where(audit.c.seq == 2).values(data_json=data, hash=forged))
        conn.execute(update(audit_head).values(hash=forged))
    assert main(["--state-dir", str(state), "audit", "verify"]) == 0
    assert _verify(state, export) == 1
    assert "audit record 2 differs from the export" in capsys.readouterr().err


def test_edited_export_fails_its_signature(
    exported: tuple[Path, Workspace, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """An export whose head was lowered after signing does not verify."""
    state, _, export, _ = exported
    document = json.loads(export.read_text(encoding="utf-8"))
    document["head_seq"] = 1
    export.write_text(json.dumps(document), encoding="utf-8")
    assert _verify(state, export) == 1
    assert "signature does not verify" in capsys.readouterr().err


def test_export_signed_by_another_key_is_refused(
    exported: tuple[Path, Workspace, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--public-key pins who must have signed: an export signed by another key fails."""
    state, _, export, _ = exported
    _, other = _key_files(tmp_path, "other_ed25519")
    assert _verify(state, export, "--public-key", str(other)) == 1
    assert "signed by a different key" in capsys.readouterr().err


def test_export_with_a_key_that_is_not_one_is_bad_input(
    recorded: tuple[Path, Workspace], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --key file that is no ed25519 private key exits 2 naming the file, and nothing is written."""
    state, _ = recorded
    bogus = tmp_path / "not-a-key"
    bogus.write_text("hello\n", encoding="utf-8")
    export = tmp_path / "head.json"
    status = main(["--state-dir", str(state), "audit", "export", "--key", str(bogus), "-o", str(export)])
    assert status == 2
    assert f"error: {bogus}, --key: is not a private key in OpenSSH or PEM form" in capsys.readouterr().err
    assert not export.exists()
