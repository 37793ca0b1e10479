"""`famcli info`: the model, its context window, dtype and device, and the memory with its state size."""

from __future__ import annotations

import json

import typer

from famcli.cli.options import JsonOpt, grouped, session_options


@grouped(options=(session_options, "seed"))
def info(options: object, as_json: JsonOpt = False):
    """Show the model, its context window, dtype, device and the memory configuration with its state size."""
    from famcli.jobs.opening import open_session
    from famcli.models.runtime import describe_session

    session = open_session(options)
    result = describe_session(session)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        typer.echo(f"{key:15} {value}")
