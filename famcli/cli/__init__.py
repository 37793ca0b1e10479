"""The famcli command line: thin Typer commands that parse options, call one library function and print.

This module holds the application and its runner (`run`: exit codes, signals, one-line errors); the commands
live in the modules beside it, and famcli/__main__.py (the console script and `python -m famcli`) puts them
in the application's table.

Only this package talks to the terminal: results on stdout, progress and errors on stderr. Exit codes:
0 done, 1 a user error (one line `Error: ...`), 2 a usage error, 70 an internal error (a bug: one line,
`FAMCLI_DEBUG=1` for the traceback), 130 Ctrl-C, 128 + the signal for SIGTERM and SIGHUP.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from famcli import __version__
from famcli.common.errors import Stopped, is_user_error, one_line

INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h)

app = typer.Typer(
    name="famcli",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Read documents far longer than a small model's context window, in constant memory "
         "(Block Sliding Window Attention + Feedback Attention Memory).",
)


def _version(value: bool):
    if value:
        typer.echo(f"famcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False):
    """famcli: summarize, ask, chat, passkey and stream over documents of any length."""


_signalled: list[int] = []  # the signal that stopped this run (typer turns the exception into exit code 130)


def _stop(signum, frame):
    _signalled.append(signum)
    raise Stopped(signum)


def _interrupted() -> int:
    """Say why the run stopped; the exit code: 130 for Ctrl-C, 128 + the signal for SIGTERM and SIGHUP."""
    import signal

    if _signalled:
        typer.echo(f"Error: stopped by {signal.Signals(_signalled[-1]).name}", err=True)
        return 128 + _signalled[-1]
    typer.echo("Error: interrupted", err=True)
    return 130


def run(argv: list[str] | None = None) -> int:
    """Runs one command and turns what escapes it into an exit code and one line on stderr."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (nohup, &)
    _signalled.clear()
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        code = app(args=argv, standalone_mode=False)  # returns Exit codes, 130 for Ctrl-C
        return _interrupted() if code == 130 else code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click usage errors
            typer.echo(f"Error: {exc.format_message()}", err=True)
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                typer.echo(f"Try '{ctx.command_path} --help' for help.", err=True)
            return exc.exit_code
        if os.environ.get("FAMCLI_DEBUG"):
            raise
        typer.echo(f"Error: {one_line(exc)}", err=True)
        return 1 if is_user_error(exc) else INTERNAL_ERROR

