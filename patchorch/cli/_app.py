"""The typer application, global options and the error boundary."""

from __future__ import annotations

import gc
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from patchorch.cli._common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    State,
    console_err,
    plain,
    print_json,
)
from patchorch.domain.outcomes import HostFailures
from patchorch.errors import InputError, PatchorchError, ProblemsError, RunStateError

app = typer.Typer(
    name="patchorch",
    help=(
        "Staged, gated and recorded patch rollouts over Ansible.\n\n"
        "Exit statuses: 0 success; 1 findings, halted rollout or host failures; 2 bad input (nothing ran); "
        "3 waiting (approval, or a window or soak beyond --max-wait); 4 internal error; 130 interrupted."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell; run ids complete from the store.
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        from patchorch import __version__

        typer.echo(f"patchorch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="Project file (default: ./patchorch.yml when present).")
    ] = None,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Where state and logs live.")] = None,
    store_url: Annotated[str | None, typer.Option("--store-url", help="SQLAlchemy URL of the store.")] = None,
    log_format: Annotated[str | None, typer.Option("--log-format", help="console (default) or json.")] = None,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_version)
    ] = False,
) -> None:
    """Global options; every command reads its settings through them."""
    ctx.obj = State(config=config, state_dir=state_dir, store_url=store_url, log_format=log_format)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status instead of raising (the console script exits with it)."""
    from patchorch.cli._commands import register

    args = sys.argv[1:] if argv is None else argv
    # Only the module of the command named is imported: the others' imports and typer's conversion of their
    # parameters would be start-up time that command does not use.
    register(args)
    # What start-up built (modules, classes, the app) lives as long as the process: frozen, the garbage collector no
    # longer walks it at each full collection while the command runs. Unfrozen afterwards, so that a process running
    # several commands (the tests) still collects the garbage of earlier ones.
    gc.freeze()
    try:
        return _invoke(argv, as_json="--json" in args)
    finally:
        gc.unfreeze()


def _invoke(argv: list[str] | None, *, as_json: bool) -> int:
    """The command's exit status: the error boundary, where expected errors become one line and a status."""
    try:
        # Outside standalone mode click returns the code of typer.Exit instead of raising it.
        status = app(args=argv, prog_name="patchorch", standalone_mode=False)
    except SystemExit as exc:  # typer.Exit and click's own exits
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 1
    except KeyboardInterrupt:
        console_err.print("interrupted")
        return EXIT_INTERRUPTED
    except (InputError, RunStateError) as exc:
        _print_error(exc, as_json=as_json)
        return EXIT_BAD_INPUT
    except HostFailures as exc:
        # A caller chose the exception over the outcome data: hosts failed, as a run with failures reports it.
        _print_error(exc, as_json=as_json)
        return EXIT_FINDINGS
    except PatchorchError as exc:
        return _internal(exc, expected=True)
    except Exception as exc:
        # Outside standalone mode click raises its usage errors; typer bundles its own click, so match by class name.
        names = {cls.__name__ for cls in type(exc).__mro__}
        if "ClickException" in names:
            exc.show(file=sys.stderr)  # type: ignore[attr-defined]  # click's exceptions render themselves
            return EXIT_BAD_INPUT
        if "Abort" in names:
            console_err.print("aborted")
            return EXIT_INTERRUPTED
        return _internal(exc, expected=False)
    return status if isinstance(status, int) else 0


def _print_error(exc: PatchorchError, *, as_json: bool) -> None:
    """Every problem of a bad input, one line each (escaped: values come from outside); with --json also as JSON."""
    problems = exc.problems if isinstance(exc, ProblemsError) else ()
    if as_json:
        print_json(
            {
                "error": exc.message,
                "kind": type(exc).__name__,
                "problems": [problem.as_dict() for problem in problems],
                **({} if problems else {"context": exc.context}),
            }
        )
    if len(problems) > 1:
        count = f"{len(problems)} problems"
        summary = exc.summary if isinstance(exc, ProblemsError) and exc.summary else None
        heading = f"error: {summary}: {count}:" if summary else f"error: {count}:"
        console_err.print(heading, markup=False, highlight=False)
        for problem in problems:
            console_err.print(f"  {plain(problem)}", markup=False, highlight=False)
    else:
        console_err.print(f"error: {plain(exc)}", markup=False, highlight=False)


def _internal(exc: BaseException, *, expected: bool) -> int:
    """Print one line, keep the traceback in a debug file."""
    from patchorch.cli._common import debug_dir

    directory = debug_dir()
    path = directory / f"error-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}.log"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        where = f" (traceback in {path})"
    except OSError:
        where = ""
    kind = "error" if expected else "internal error"
    console_err.print(f"{kind}: {plain(exc)}{where}", markup=False, highlight=False)
    return EXIT_INTERNAL


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
