"""What a model folder may do before any of it is used: famcli reads files people download, and a model folder
holds code (a config's `auto_map`, a chat template, a pickle) as well as weights. Each check here runs before
the part it guards: the configuration before transformers sees it, a GGUF's header before a parser sizes
anything by it, the chat template on a probe turn before any reading (docs/limits.md, "Files famcli reads
back")."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path

from famcli.common.errors import UserError
from famcli.common.limits import MAX_GGUF_COUNT, TEMPLATE_SECONDS

SUPPORTED_ARCHS = ("llama", "mistral", "qwen2", "qwen3")


class ModelError(UserError):
    """A model that cannot be found or read; the message is one line meant for the user."""


def refuse_custom_code(folder: Path, spec: str) -> None:
    """famcli never runs Python from a model folder: a config that maps to its own code (`auto_map`) or names an
    architecture famcli does not support is refused before transformers sees it (transformers would otherwise
    ask on stdout whether to run that code, and read the answer from stdin)."""
    for name in ("config.json", "tokenizer_config.json", "processor_config.json"):
        file = folder / name
        if not file.is_file():
            continue
        try:
            if file.stat().st_size > 16 << 20:
                raise ModelError(f"{spec}: {name} is {file.stat().st_size >> 20} MB, not a model configuration")
            settings = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{spec}: {name} is not valid JSON ({type(exc).__name__})") from None
        if not isinstance(settings, dict):
            raise ModelError(f"{spec}: {name} is not a JSON object")
        if "auto_map" in settings:
            raise ModelError(f"{spec} asks to run its own Python code ({name} has an auto_map); famcli never runs "
                             "code from a model folder")
        if name == "config.json" and settings.get("model_type") not in SUPPORTED_ARCHS:
            raise ModelError(f"architecture {settings.get('model_type')!r} is not supported (famcli supports "
                             f"{', '.join(SUPPORTED_ARCHS)})")


def check_gguf_header(path: Path) -> None:
    """The fixed header of a GGUF file (magic, version, tensor and metadata counts) is sane before a parser
    sizes anything by it: a version gguf knows, counts within MAX_GGUF_COUNT and ones the file can hold
    (each tensor or entry takes at least 8 bytes)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(24)
    size = path.stat().st_size
    if len(head) < 24 or head[:4] != b"GGUF":
        raise ModelError(f"cannot read GGUF model {path}: not a GGUF file")
    version, tensors, entries = struct.unpack("<IQQ", head[4:])
    if version not in (2, 3):
        raise ModelError(f"cannot read GGUF model {path}: GGUF version {version} (famcli reads 2 and 3)")
    for what, count in (("tensors", tensors), ("metadata entries", entries)):
        if count > MAX_GGUF_COUNT or 24 + 8 * count > size:
            raise ModelError(f"cannot read GGUF model {path}: it declares {count:,} {what}, more than its "
                             f"{size:,} bytes hold (a damaged or hostile file)")


def check_chat_template(tokenizer, name: str) -> None:
    """A model folder's chat template is a program: it is rendered once on a probe turn as the model loads, so one
    the sandbox refuses (attribute access, a range past its bound), one that raises, or one that runs past
    TEMPLATE_SECONDS is one error before any reading, not a failure after a long one."""
    if not getattr(tokenizer, "chat_template", None):
        return
    try:
        with _time_limit(TEMPLATE_SECONDS):
            tokenizer.apply_chat_template([{"role": "user", "content": "Is this a question?"}], tokenize=False,
                                          add_generation_prompt=True)
    except Exception as exc:  # noqa: BLE001 - jinja2 and the sandbox raise many kinds; every one is the template's
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ModelError(f"the chat template of model {name} cannot be used ({type(exc).__name__}: {first})") from None


@contextlib.contextmanager
def _time_limit(seconds: float):
    """A TimeoutError in the main thread after `seconds` (elsewhere no bound: signals reach only the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"it ran for more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
