"""Bad input exits 2 with one line naming what is wrong, and nothing runs: store URLs (SQLite in memory, a server
that does not answer), state directories, YAML nested too deep, limits Ansible would quietly widen."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.domain.run import RunInputs
from patchorch.store.runs import RunStore
from tests.plans import make_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example-mail"


def _deep(path: Path) -> Path:
    path.write_text("classes: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--store-url", "garbage://x", "runs"], "store_url: garbage://x names no database patchorch knows"),
        (
            ["--store-url", "postgresql+pg8000://ops:pw@db/patchorch", "runs"],
            "which is not installed: install it, or use postgresql://USER@HOST/DB with patchorch[postgres] installed",
        ),
        (["--store-url", "sqlite:////nonexistent/dir/p.db", "runs"], "the directory /nonexistent/dir does not exist"),
        (["--state-dir", "/etc/passwd", "runs"], "state_dir: /etc/passwd is a file, not a directory"),
        (["plan", "-i", str(EXAMPLE), "--limit", "["], "--limit: '[' has unbalanced brackets"),
        (["rollout", "--emergency", "--yes", "-i", str(EXAMPLE), "--limit", "["], "--limit: '[' has unbalanced"),
        (["resume", "r1", "--wait-for-claims", "soon"], "--wait-for-claims: "),
        (["exposure", "-i", str(EXAMPLE), "--max-fact-age", "soon"], "--max-fact-age: expected a duration like"),
    ],
)
def test_bad_option_exits_2_with_one_line(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad option is one `error:` line naming it, exit 2."""
    status = main(["--state-dir", str(tmp_path / "state"), *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ")
    assert says in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.mkdir(), "is a directory, not an SQLite file"),
        (lambda p: p.write_text("not a database, only text " * 20), "is not an SQLite database"),
    ],
)
def test_unopenable_sqlite_store_exits_2_with_one_line(
    make: Callable[[Path], object], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store URL whose SQLite path is a directory or a file of something else: one line naming it, exit 2."""
    path = tmp_path / "store.db"
    make(path)
    status = main(["--state-dir", str(tmp_path / "state"), "--store-url", f"sqlite:///{path}", "runs"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"error: store_url: {path} {says}")
    assert err.count("\n") == 1


def test_deeply_nested_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A policy nested thousands of levels deep is refused with its file and line, not a stack overflow."""
    policy = _deep(tmp_path / "policy.yml")
    status = main(["--state-dir", str(tmp_path / "state"), "plan", "-i", str(EXAMPLE), "--policy", str(policy)])
    assert status == 2
    assert capsys.readouterr().err == f"error: {policy}:1: not valid YAML: nested deeper than 64 levels\n"


def test_deeply_nested_project_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A patchorch.yml nested thousands of levels deep is refused with its file and line."""
    config = _deep(tmp_path / "patchorch.yml")
    status = main(["--config", str(config), "runs"])
    assert status == 2
    assert capsys.readouterr().err == f"error: {config}:1: not valid YAML: nested deeper than 64 levels\n"


def test_resume_of_a_run_another_process_drives_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another state directory's process holds the run's lock in the shared store: one line naming it, exit 2."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = RunStore.open(url, actor="alice")
    store.create_run("r1", make_plan([[["a"]]]), RunInputs())
    store.lock_run("r1", holder="bastion-2:4242", lease=timedelta(minutes=1))
    status = main(["--state-dir", str(tmp_path / "state"), "--store-url", url, "resume", "r1"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: run r1 is being driven by alice (bastion-2:4242) since ")
    assert err.count("\n") == 1
    assert store.attempts("r1") == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_store_url_is_refused_before_a_rollout_runs(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite in memory as the store (nothing recorded would outlast the process): one line naming it, exit 2, and the
    rollout never starts (no state directory, no run directory)."""
    with socket.socket() as probe:  # the host's SSH port: nothing listens there, should Ansible ever run
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n      ansible_port: {port}\n")
    state = tmp_path / "state"
    argv = ["--state-dir", str(state), "--store-url", url, "rollout", "--emergency", "--yes", "-i", str(inventory)]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert err == (
        f"error: store_url: {url} is an in-memory SQLite database: nothing recorded in it would outlast the process "
        "(allowed: sqlite:///PATH or postgresql://USER@HOST/DB)\n"
    )
    assert not state.exists()


def test_unreachable_postgresql_store_exits_2_naming_it_without_the_password(
    unreachable_postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL store nothing answers for: one line (also as JSON) with the URL, its password masked, the driver's
    reason and what to check; exit 2 and nothing written (no state directory, no debug log)."""
    state = tmp_path / "state"
    status = main(["--state-dir", str(state), "--store-url", unreachable_postgres_url, "runs", "--json"])
    captured = capsys.readouterr()
    masked = unreachable_postgres_url.replace("s3cret-pw", "***")
    assert status == 2
    assert captured.err.startswith(f"error: store_url: cannot reach the store at {masked}: Connection refused; check ")
    assert captured.err.count("\n") == 1
    assert json.loads(captured.out)["problems"][0]["value"] == masked
    assert "s3cret-pw" not in captured.err + captured.out
    assert not state.exists()
