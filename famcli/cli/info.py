"""`famcli info`: the model, its context window, dtype and device, and the memory with its state size."""

from __future__ import annotations

import json

import typer

from famcli.cli.options import (
    AdapterOpt,
    BlockOpt,
    DeviceOpt,
    DtypeOpt,
    FamOpt,
    JsonOpt,
    MemoryOpt,
    ModelOpt,
    SegmentsOpt,
    session_options,
)


def info(model: ModelOpt = None, memory: MemoryOpt = "auto", block_size: BlockOpt = None,
         memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
         device: DeviceOpt = "auto", as_json: JsonOpt = False, adapter: AdapterOpt = "auto"):
    """Show the model, its context window, dtype, device and the memory configuration with its state size."""
    from famcli.jobs.opening import open_session
    from famcli.models.runtime import describe_session

    session = open_session(session_options(model, memory, block_size, memory_segments, fam_length, dtype, device,
                                           adapter=adapter))
    result = describe_session(session)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        typer.echo(f"{key:15} {value}")
