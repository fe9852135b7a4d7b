"""Open a local page in a real headless Chromium (Debian's `chromium`): the DOM after its scripts ran, a screenshot.

Only file:// pages; the browser runs as root with the flags that keep it off the network and out of any profile.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Let the page's scripts (plotly) run to completion before the DOM is dumped or the screenshot taken.
    "--virtual-time-budget=15000",
)


@dataclass(frozen=True)
class Rendered:
    """What Chromium made of a page: the DOM after JavaScript, and where the screenshot is."""

    dom: str
    screenshot: Path


def chromium() -> str:
    """The Chromium binary; the project's install step (scripts/install-fleet-deps.sh) puts it there."""
    binary = shutil.which("chromium")
    if binary is None:
        raise AssertionError("chromium is not installed: run scripts/bootstrap.sh")
    return binary


def render(page: Path, out_dir: Path, *, width: int = 1280, height: int = 2400) -> Rendered:
    """Load `page` (a local file) in headless Chromium; its DOM after scripts ran and a PNG screenshot in `out_dir`."""
    url = page.resolve().as_uri()
    assert url.startswith("file://")
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = chromium()
    dom = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={out_dir / 'profile-dom'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    screenshot = out_dir / "report.png"
    subprocess.run(
        [
            binary,
            *FLAGS,
            f"--user-data-dir={out_dir / 'profile-shot'}",
            f"--window-size={width},{height}",
            f"--screenshot={screenshot}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return Rendered(dom=dom, screenshot=screenshot)
