"""Command groups that more than one command module adds commands to, so that neither imports the other."""

from __future__ import annotations

import typer

from patchorch.cli._app import app

advisories_app = typer.Typer(
    help="Import and list security advisories (CSAF 2.0, CISA KEV, OSV).", no_args_is_help=True
)
app.add_typer(advisories_app, name="advisories")
