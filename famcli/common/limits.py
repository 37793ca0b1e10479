"""Every limit famcli puts on what it is given, in one place (docs/limits.md lists them with what a user sees).

A document, a model folder or an option is hostile until checked: each limit below bounds the memory or the
time one input can cost, and is checked before the work it bounds starts. A limit that a real document can
reach has an environment variable that raises it; the error names both the limit and the variable.
"""

from __future__ import annotations

import os

from famcli.common.errors import UserError


class LimitError(UserError):
    """An input past one of famcli's limits (the message says which, and how to raise it where one can)."""


# Documents: what compressed text and zip containers (EPUB, DOCX) may inflate to.
INFLATE_FLOOR = 64 << 20      # below this a document may inflate by any ratio
INFLATE_RATIO = 200           # FAMCLI_MAX_INFLATE: past the floor, at most this many times the compressed size
TEXT_MB = 2048                # FAMCLI_MAX_TEXT_MB: never more text than this from one document
MAX_ZIP_ENTRIES = 10_000      # parts of one EPUB or DOCX
MAX_ZIP_BYTES = 1 << 30       # what the parts of one EPUB or DOCX may inflate to in all (they are loaded whole)
MAX_SPINE = 10_000            # reading-order entries of one EPUB
PIPE_WAIT = 10                # FAMCLI_PIPE_WAIT: seconds a named pipe given as FILE may wait for its writer
HTML_MB = 128                 # FAMCLI_MAX_HTML_MB: one HTML page or EPUB chapter (parsed whole: ~25x in memory)

# Options and questions: checked before a model loads.
MAX_QUESTION_CHARS = 4_000    # a question (ask, chat, stream --question, batch ask)
MAX_GENERATE_TOKENS = 4_096   # --max-tokens of any command that writes
MAX_BLOCK_SIZE = 8_192        # --block-size (the model's own window is checked too)
MAX_MEMORY_SEGMENTS = 64      # --memory-segments
MAX_FAM_LENGTH = 1_024        # --fam-length / --slots
MAX_PASSKEY_TOKENS = 4_000_000  # one passkey document (--length)
MAX_PASSKEY_CELLS = 1_000     # lengths x depths x trials x memories of one passkey run

# A model folder's chat template (a jinja2 program, sandboxed): rendered once when the model loads.
TEMPLATE_SECONDS = 5

# Saved files famcli reads back: a state's token count and a GGUF's declared sizes.
MAX_STATE_TOKENS = 1 << 40
MAX_GGUF_COUNT = 1 << 20      # tensors or metadata entries one GGUF may declare


def mb(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MB" if n >= 1 << 20 else f"{n / 1024:,.1f} KB"


def env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise UserError(f"{name} must be a positive number, got {raw}")
    return value


class Inflation:
    """How far a compressed document or a zip part may inflate: at most `ratio` times its compressed size once
    past INFLATE_FLOOR bytes, and never past `total` bytes. Environment: FAMCLI_MAX_INFLATE (the ratio) and
    FAMCLI_MAX_TEXT_MB (the total)."""

    floor = INFLATE_FLOOR

    def __init__(self):
        self.ratio = env_number("FAMCLI_MAX_INFLATE", INFLATE_RATIO)
        self.total = int(env_number("FAMCLI_MAX_TEXT_MB", TEXT_MB) * (1 << 20))

    def check(self, name: str, inflated: int, compressed: int, what: str = "") -> None:
        if inflated > self.total or (inflated > self.floor and inflated > self.ratio * max(1, compressed)):
            raise LimitError(
                f"{name}{what} inflates past the limits ({mb(inflated)} from {mb(compressed)} compressed; at most "
                f"{self.ratio:g}x past {mb(self.floor)}, and {mb(self.total)} in all): a decompression bomb? "
                f"FAMCLI_MAX_INFLATE and FAMCLI_MAX_TEXT_MB raise them")


def check_markup(name: str, size: int) -> None:
    """One HTML page or EPUB chapter within FAMCLI_MAX_HTML_MB: its parsed tree takes about 25 times its size."""
    limit = env_number("FAMCLI_MAX_HTML_MB", HTML_MB) * (1 << 20)
    if size > limit:
        raise LimitError(f"{name} is {mb(size)} of markup in one page (at most {mb(int(limit))}: it is parsed "
                         "whole, at about 25 times its size in memory); FAMCLI_MAX_HTML_MB raises it")


def check_question(question: str, what: str = "the question") -> str:
    """A question within MAX_QUESTION_CHARS (a longer one is a document: give it as FILE)."""
    if len(question) > MAX_QUESTION_CHARS:
        raise LimitError(f"{what} is {len(question):,} characters long (at most {MAX_QUESTION_CHARS:,}); "
                         "put long text in the document")
    return question
