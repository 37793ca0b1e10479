"""famcli's command table, and where `famcli` (the console script) and `python -m famcli` start.

The application, its runner and the commands live in famcli/cli/; this module names which function runs each
command (docs/design.md, section 11).
"""

import sys

from famcli.cli import app, batch, info, measure, read, run, train

app.command()(info.info)
for command in (read.summarize, read.ask, read.chat, read.stream, measure.passkey, measure.bench, train.train):
    app.command()(command)
app.add_typer(batch.app, name="batch")
app.command("bench-cell", hidden=True)(measure.bench_cell)
app.command("bench-startup", hidden=True)(measure.bench_startup)


def main(argv: list[str] | None = None) -> int:
    """Run one famcli command line; the exit code (famcli/cli/__init__.py lists them)."""
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
