"""A hostile inventory through the CLI: every payload is refused (exit 2 naming host, field and file) or shown as
inert escaped text on a real pseudo-terminal; nothing it holds is executed or styles the screen."""

from __future__ import annotations

import json
import re
import shlex
import textwrap
from pathlib import Path

import pytest

from patchorch.cli._app import main
from patchorch.cli._common import plain
from tests.cli.terminal import Screen, run_in_terminal

# Accepted values that a terminal or rich would otherwise interpret: markup, a hyperlink, a bidi override.
TEAM = "[reverse red]ops[/]"
CLOSING = "ops[/]"
CONTACT = "[link=https://evil.example]pager[/link]"
REASON = "retired \u202edecnalab\u202c ok"
CLUSTER = "[bold]imap[/bold]"

HOSTILE = f"""
all:
  children:
    imap:
      hosts:
        imap1: {{}}
        imap2: {{}}
      vars:
        patchorch_owner: {{team: "{TEAM}", contact: "{CONTACT}"}}
        patchorch_cluster: "{CLUSTER}"
        patchorch_services: ["[blink]imap"]
    other:
      hosts:
        old1:
          patchorch_owner: "{CLOSING} <ops@example.org>"
          patchorch_exclude: true
          patchorch_exclude_reason: "{REASON}"
"""

# SGR parameters rich would emit for the payloads' markup: reverse video (7) and blink (5); OSC 8 is a hyperlink.
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """The hostile inventory, written into a fresh directory."""
    path = tmp_path / "hostile.yml"
    path.write_text(textwrap.dedent(HOSTILE).lstrip(), encoding="utf-8")
    return path


def _inert(screen: Screen) -> None:
    """No markup of the payloads reached the terminal as style or hyperlink."""
    for match in _SGR.finditer(screen.raw):
        parameters = match.group(1).split(";")
        assert "7" not in parameters, f"reverse video applied: {match.group()!r}"
        assert not (("5" in parameters) and "38" not in parameters and "48" not in parameters), "blink applied"
    assert "\x1b]8;" not in screen.raw, "a hyperlink was emitted"
    assert "\u202e" not in screen.raw, "a bidi override reached the terminal"


def _environment(tmp_path: Path) -> dict[str, str]:
    return {"PATCHORCH_STATE_DIR": str(tmp_path / "state")}


@pytest.mark.parametrize(
    ("command", "status", "shown"),
    [
        # show: owner, cluster and services literally.
        (["inventory", "show"], 0, [TEAM, CLUSTER, "[blink]imap"]),
        # check used to crash on `ops[/]` (exit 4): teams and contacts literally, exit 1 for its findings.
        (["inventory", "check"], 1, [TEAM, CLOSING, CONTACT]),
        # plan: the exclusion reason with its bidi controls written out, owners literally.
        (["plan"], 0, [plain(REASON), "\\u202e", TEAM]),
    ],
    ids=["show", "check", "plan"],
)
def test_outside_text_is_shown_literally_and_unstyled(
    hostile: Path, tmp_path: Path, command: list[str], status: int, shown: list[str]
) -> None:
    """On a terminal every payload appears as the text it is, and none of it styles, links or reorders the screen."""
    screen = run_in_terminal([*command, "-i", str(hostile)], columns=200, env=_environment(tmp_path))
    assert screen.status == status, screen.raw
    text = "\n".join(screen.lines)
    for payload in shown:
        assert payload in text
    _inert(screen)


@pytest.mark.parametrize(
    ("declaration", "field", "expected"),
    [
        ('patchorch_owner: {team: ops, contact: "\\e[2Jops@example.org"}', "patchorch_owner", "control character"),
        ('patchorch_cluster: "imap\\nfake line"', "patchorch_cluster", "line break or control character"),
        ("patchorch_reboot_command: \"{{ lookup('pipe', 'touch TMP/PWNED') }}\"", "patchorch_reboot_command", "Jinja"),
    ],
)
def test_refused_payloads_exit_2_naming_host_field_and_file(
    tmp_path: Path, declaration: str, field: str, expected: str
) -> None:
    """ESC, newlines and Jinja are refused with exit 2 naming the file and line, host and variable; nothing runs."""
    source = tmp_path / "bad.yml"
    declaration = declaration.replace("TMP", str(tmp_path))
    source.write_text(f"all:\n  hosts:\n    mx1: {{{declaration}}}\n", encoding="utf-8")
    screen = run_in_terminal(["plan", "-i", str(source)], columns=300, env=_environment(tmp_path))
    assert screen.status == 2, screen.raw
    text = " ".join(" ".join(screen.lines).split())
    assert f"error: {source}:3, host mx1, {field}: " in text
    assert expected in text
    assert "\x1b[2J" not in screen.raw
    assert not (tmp_path / "PWNED").exists()


def test_non_ascii_host_name_is_refused_before_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`münchen-mx3` fails `inventory check` with exit 2 and the file, not `render` later with exit 4."""
    source = tmp_path / "hosts.yml"
    source.write_text("all:\n  hosts:\n    mx1: {}\n    münchen-mx3: {}\n", encoding="utf-8")
    state = ["--state-dir", str(tmp_path / "state")]
    assert main([*state, "inventory", "check", "-i", str(source)]) == 2
    assert main([*state, "render", "-i", str(source), "-o", str(tmp_path / "run")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {source}:4, host münchen-mx3, host name: host name 'münchen-mx3' would not be read" in err
    assert not (tmp_path / "run").exists()


def test_every_problem_is_printed_and_given_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several problems: each on its own line on stderr, and with --json every one as data on stdout."""
    source = tmp_path / "hosts.yml"
    source.write_text(
        "all:\n  hosts:\n    mx1: {patchorch_criticality: hihg}\n    mx2: {patchorch_exposure: moon}\n",
        encoding="utf-8",
    )
    assert main(["--state-dir", str(tmp_path / "s"), "inventory", "show", "-i", str(source), "--json"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0] == "error: 2 problems:"
    assert lines[1].startswith(f"  {source}:3, host mx1, patchorch_criticality: 'hihg' is not allowed")
    assert lines[2].startswith(f"  {source}:4, host mx2, patchorch_exposure: 'moon' is not allowed")
    data = json.loads(captured.out)
    assert data["kind"] == "InventoryError"
    assert [(p["host"], p["field"], p["file"], p["line"]) for p in data["problems"]] == [
        ("mx1", "patchorch_criticality", str(source), 3),
        ("mx2", "patchorch_exposure", str(source), 4),
    ]


def test_render_quotes_paths_in_the_command_to_paste(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The "run by hand" command line keeps an inventory path with a space as one shell word."""
    source = tmp_path / "my inventory" / "hosts.yml"
    source.parent.mkdir()
    source.write_text("all:\n  hosts:\n    mx1: {}\n    mx2: {}\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["--state-dir", str(tmp_path / "s"), "render", "-i", str(source), "-o", str(out), "--json"]) == 0
    words = shlex.split(json.loads(capsys.readouterr().out)["run_by_hand"])
    assert words[:3] == ["cd", str(out), "&&"]
    assert words[words.index("-i") + 1] == str(source)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\x1b[2Jops", "\\x1b[2Jops"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x9b31m", "\\x9b31m"),
        ("abc\u202edef\u200b", "abc\\u202edef\\u200b"),
        ("[reverse red]München[/]", "[reverse red]München[/]"),
    ],
)
def test_plain_writes_out_what_a_terminal_would_act_on(value: str, shown: str) -> None:
    """plain writes control and invisible formatting characters out; markup and letters stay as they are."""
    assert plain(value) == shown
