"""The prompts famcli puts to the model: the headers a reading starts with, the chat turn every instruction
is wrapped in, and the repeat rule of notes and summaries. Imports nothing: what writes prompts (famcli.jobs'
asking and session, famcli.summary's notes and summary) shares it without importing one another.
"""

from __future__ import annotations

READING_HEADER = "Read the following document carefully. Questions about it will follow.\n\n"


def question_header(question: str) -> str:
    return f"Read the following document and answer this question about it: {question}\n\n"


NO_REPEAT = 3  # notes and summaries of a 135M model loop without it


def chat_turn(tok, instruction: str) -> str:
    """The instruction as a user turn of the tokenizer's chat template (plain text when it has none)."""
    if not getattr(tok, "chat_template", None):
        return f"\n\n{instruction}\n"
    turn = tok.apply_chat_template([{"role": "user", "content": instruction}], tokenize=False,
                                   add_generation_prompt=True)
    user = turn.find("<|im_start|>user")  # a default system turn only distracts a small model here
    return "\n" + (turn[user:] if user > 0 else turn)
