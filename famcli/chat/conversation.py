"""Read once, ask many: a reading (memory state + recall index) that answers question after question.

`Conversation` is the library part (answers, sources, saving); `repl` and `lines` are the two front ends
`famcli chat` picks from: an interactive prompt (prompt-toolkit: history, editing) when stdin and stdout are
terminals, one question per line otherwise (so it scripts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from famcli.common.limits import LimitError, check_question
from famcli.common.outputs import check_writable
from famcli.core.engine import State
from famcli.core.generate import Sampling
from famcli.jobs.asking import ask
from famcli.jobs.session import Session
from famcli.recall.text import Passage, source_line

HELP = ("Ask anything about the document. /sources lists the passages of the last answer, /save FILE keeps "
        "the reading (famcli chat FILE --load-state FILE resumes it), /help, /quit (or Ctrl-D) leaves.")


@dataclass
class Conversation:
    """One reading of a document and the answers drawn from it."""

    session: Session
    state: State
    max_tokens: int = 200
    sampling: Sampling = field(default_factory=Sampling)
    identity: dict | None = None
    passages: list[Passage] = field(default_factory=list)  # of the last answer
    truncated: bool = False  # the last answer was cut at max_tokens
    last: object = None  # the last famcli.jobs.asking.Answer

    def answer(self, question: str, on_text: Callable[[str], None] | None = None) -> str:
        """Answer from the reading, which stays as it was (the next question starts from it again)."""
        answer = ask(self.session, self.state, question, self.max_tokens, self.sampling, on_text)
        self.passages, self.truncated, self.last = answer.passages, answer.truncated, answer
        return answer.text

    def save(self, path: Path | str) -> None:
        check_writable(path, "state file")
        if self.state.recall is not None:
            self.state.recall.finish()
        self.session.engine.save_state(self.state, path, self.identity, recall=self.state.recall)

    def sources(self) -> list[dict]:
        return [p.to_dict() for p in self.passages]


def command(conversation: Conversation, line: str) -> str | None:
    """Run a /command and return what to print; None for a line that is a question."""
    name, _, arg = line.strip().partition(" ")
    if not name.startswith("/"):
        return None
    if name in ("/quit", "/exit"):
        raise EOFError
    if name == "/help":
        return HELP
    if name == "/sources":
        if not conversation.passages:
            return "No passages yet (ask a question)."
        return "\n".join(source_line(p) for p in conversation.sources())
    if name == "/save":
        if not arg.strip():
            return "Usage: /save FILE"
        conversation.save(Path(arg.strip()).expanduser())
        return f"Saved the reading ({conversation.state.n_tokens:,} tokens) to {arg.strip()}."
    return f"Unknown command {name}. {HELP}"


QUIT = object()


def _command(conversation: Conversation, line: str):
    """What a /command line prints, QUIT to leave, None for a question; an error (e.g. /save into a folder
    that does not exist) is printed and the session goes on."""
    try:
        return command(conversation, line)
    except EOFError:
        return QUIT
    except ValueError as exc:
        return f"Error: {exc}"


def _loop(conversation: Conversation, lines: Iterable[str | bytes], show: Callable[[str, str], None],
          answer: Callable[[str], None]) -> None:
    """Commands and questions until the lines end or /quit: `show(line, reply)` for a command's reply, and
    for a line that cannot be a question (not UTF-8, past MAX_QUESTION_CHARS): it is skipped, the next one
    is answered."""
    for number, line in enumerate(lines, 1):
        if isinstance(line, bytes):  # piped stdin, read as bytes so one bad line does not end the session
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                show(f"line {number}", f"Error: line {number} is not valid UTF-8 (byte {exc.start + 1}); skipped")
                continue
        line = line.strip()
        if not line:
            continue
        reply = _command(conversation, line)
        if reply is QUIT:
            return
        if reply is not None:
            show(line, reply)
            continue
        try:
            check_question(line, f"the question on line {number}")
        except LimitError as exc:
            show(line[:60], f"Error: {exc}; skipped")
            continue
        answer(line)


def lines(conversation: Conversation, questions: Iterable[str | bytes], write: Callable[[str], None],
          as_json: bool = False) -> None:
    """One answer per question line (blank lines skipped): as text, one line, or the lines of a list followed by
    a blank line; with `as_json`, one JSON object per line."""
    def show(line: str, reply: str) -> None:
        write(json.dumps({"command": line, "result": reply}) if as_json else reply)

    def answer(question: str) -> None:
        text = conversation.answer(question)
        if as_json:
            last = conversation.last.to_dict()
            write(json.dumps({"question": question, "answer": text, "short": last["short"],
                              "sentence": last["sentence"], "answer_path": last["answer_path"],
                              "candidates": last["candidates"],
                              "truncated": conversation.truncated, "passages": conversation.sources()}))
        elif "\n" in text.strip():  # a list keeps its lines; a blank line ends it
            write("\n".join(" ".join(line.split()) for line in text.strip().split("\n") if line.strip()) + "\n")
        else:
            write(" ".join(text.split()))

    _loop(conversation, questions, show, answer)


def repl(conversation: Conversation, history: Path | None, write: Callable[[str], None],
         stream: Callable[[str], None]) -> None:
    """The interactive prompt: answers stream token by token; Ctrl-C stops an answer or clears the line,
    Ctrl-D or /quit leaves."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    prompt = PromptSession(history=FileHistory(str(history)) if history else InMemoryHistory())

    def typed() -> Iterator[str]:
        while True:
            try:
                yield prompt.prompt("> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return

    def answer(question: str) -> None:
        try:
            conversation.answer(question, stream)
        except KeyboardInterrupt:
            stream(" [stopped]")
        write("")

    write(HELP)
    _loop(conversation, typed(), lambda line, reply: write(reply), answer)
