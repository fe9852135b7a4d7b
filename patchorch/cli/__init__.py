"""The `patchorch` command: a thin adapter over the library and the single place errors become exit statuses.

Exit statuses (also in `patchorch --help`):

    0    success: clean, or every host patched
    1    findings, a halted rollout, or host failures
    2    bad input (inventory, policy, advisory, settings, flags): nothing ran, nothing recorded changed
    3    the rollout is waiting: for an approval, or for a soak or window longer than --max-wait
    4    patchorch itself failed (the traceback is in the debug log named in the message)
    130  interrupted (Ctrl-C): the stage was marked cancelled
"""

from __future__ import annotations

from patchorch.cli._app import app, main

__all__ = ["app", "main"]
