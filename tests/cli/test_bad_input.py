"""Bad input exits 2 with one line naming what is wrong, and nothing runs: store URLs, state directories, YAML nested
too deep, limits Ansible would quietly widen."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchorch.cli._app import main

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
            "which is not installed: install patchorch[postgres]",
        ),
        (["--store-url", "sqlite:////nonexistent/dir/p.db", "runs"], "the directory /nonexistent/dir does not exist"),
        (["--state-dir", "/etc/passwd", "runs"], "state_dir: /etc/passwd is a file, not a directory"),
        (["plan", "-i", str(EXAMPLE), "--limit", "["], "--limit: '[' has unbalanced brackets"),
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
