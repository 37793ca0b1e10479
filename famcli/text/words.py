"""Words as famcli compares them: folded for case and accent marks (a reader types "Zoe" for "Zoë"), possessives
dropped, a number one word without its thousands commas."""

from __future__ import annotations

import re
import unicodedata

NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)*(?!\w)")  # 4,250 and 4250 are one number; 3.5 another
WORD = re.compile(NUMBER.pattern + r"|\w+(?:['’]\w+)*")


def fold(text: str) -> str:
    """Lower case without accent marks ("Zoë" -> "zoe"); the same length rule as the text is not kept."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Folded words, possessive 's dropped ("Frankenstein's" -> "frankenstein"); a number is one word, written
    without its thousands commas ("123,456" -> "123456")."""
    return [w.replace(",", "") if w[:1].isdigit() else re.sub(r"['’]s$", "", w) for w in WORD.findall(fold(text))]


def numbers(text: str) -> set[str]:
    """The numbers a text writes in digits, without thousands commas: an answer may bring no number that its
    evidence does not write ("123,456" is "123456", and neither is "123" and "456")."""
    return {m.group().replace(",", "") for m in NUMBER.finditer(text)}
