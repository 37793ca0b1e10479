"""Answers from the sentences that hold them (docs/recall.md, "The answer path").

The default model reads a whole 4k-token document, or four 128-token passages, and still misses the fact
half the time ("The pass key is a small, silver-tipped iron key"). Handed the two or three sentences that
match the question, it copies the answer. So an answer is built in four steps:

1. **Chunks.** BM25 ranks the recall index's 128-token chunks (famcli.recall.search); the best few, widened to
   whole sentences, are the candidates.
2. **Sentences.** The candidates are cut into sentences (and a log into its lines) and BM25 ranks them again
   against the question; the best `sentences` are the evidence, best first (for "why" and "how", the best one
   and the one after it: a reason seldom repeats the question's words).
3. **Answer.** The model answers a chat turn that holds only the evidence and the question.
4. **Check.** An answer must bring something the evidence says: a name or number it gives that is neither in
   the evidence nor in the question, or no new word of the evidence at all, is refused, and the best sentence
   alone is tried. When that fails too, the answer is the best sentence quoted; when the question is about a
   name the document never mentions, or nothing in it matches the question, the answer says it is not in the
   document rather than invent one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from famcli.recall.text import Bm25, Passage, bm25_scores, chunk_texts
from famcli.text import stemmer, stop_words
from famcli.text.sentences import split_sentences
from famcli.text.words import NUMBER, numbers
from famcli.text.words import words as text_words

NOT_FOUND = "Not found in the document."
RELATIVE = 0.5  # evidence sentences score at least this share of the best one
_WORD = re.compile(r"[\w'’-]+")
_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
_ASKING = {"what", "who", "whom", "whose", "which", "where", "when", "why", "how", "is", "are", "was", "were",
           "did", "does", "do", "can", "could", "the", "a", "an", "in", "on", "i", "name", "list", "tell", "give"}
_GENERIC = {"answer", "question", "text", "document", "passage", "sentence", "word", "words", "according",
            "mention", "mentioned", "say", "says", "said", "call", "called", "named", "name"}


class ChunkSearch:
    """A recall index's chunks as text with their BM25 index: built once per document and kept with the reading,
    so the questions of a conversation only score (about 1 s for a 1M-token document, 0.1 s per question)."""

    def __init__(self, index, decode: Callable[[list[int]], str]):
        self.n_chunks = index.n_chunks
        self.texts = chunk_texts(index, decode)
        self.bm25 = Bm25(self.texts)


@dataclass(frozen=True)
class AnswerOptions:
    """chunks     best BM25 chunks whose sentences are candidates
    context    tokens each chunk is widened by on both sides (whole sentences are kept)
    sentences  evidence sentences the model reads
    check      refuse answers the evidence does not support (then the best sentence alone, then a quote)
    lists      answer a question that asks for several things from each matching sentence on its own
    items      the most sentences (so items) such an answer is built from
    item_answers  each item is the model's answer from its one sentence when supported (else, and by default, the
               sentence itself: the model's short answers from one sentence invented and wandered more)"""

    chunks: int = 8  # twice --recall-blocks (with 4, chunks repeating one question word pushed out a 1M pass key)
    context: int = 96
    sentences: int = 3
    check: bool = True
    lists: bool = True  # a question that asks for several things is answered item by item (several_parts)
    items: int = 6  # most items of such an answer
    item_answers: bool = False  # each item the model's short answer from its sentence (default: the sentence)


@dataclass
class Evidence:
    """The sentences an answer is read from, best first, each a Passage (its chunk window's token span and
    place, the sentence as its text)."""

    passages: list[Passage]
    names_missing: list[str]  # names the question asks about that the document never mentions
    matched: bool  # BM25 found any of the question's words
    following: int = 0  # sentences after the first that follow it in the text (a "why" or "how" question)

    @property
    def sentences(self) -> list[str]:
        return [p.text for p in self.passages]


def question_names(question: str) -> list[str]:
    """The proper names a question asks about: capitalised words after its first, possessives dropped."""
    words = question.strip().split()
    rest = " ".join(words[1:]) if words else ""
    names = []
    for m in _NAME.finditer(rest):
        parts = [w.removesuffix("'s").removesuffix("’s").strip("'’") for w in m.group(0).split()]
        parts = [w for w in parts if w and w.lower() not in _ASKING]
        if parts:
            names.append(" ".join(parts))
    return names


# "Why ...?", "How did ...?": the answer is in the sentence after the one that matches (not "how many", "how long").
_EXPLAINING = re.compile(r"^\W*(?:why|how)\b(?!\s+(?:many|much|long|old|far|often|big|tall|large|soon)\b)", re.I)


def find_evidence(index, question: str, decode: Callable[[list[int]], str], options: AnswerOptions,
                  search: ChunkSearch | None = None) -> Evidence:
    """The evidence for a question from a recall index's token ids (no model involved)."""
    search = search if search is not None else ChunkSearch(index, decode)
    texts = search.texts
    whole = None
    missing = []
    for name in question_names(question):
        whole = whole if whole is not None else " ".join("".join(texts).lower().split())  # names cross chunks
        if not re.search(rf"\b{re.escape(name.lower())}\b", whole):
            missing.append(name)
    scores = search.bm25.scores(question)
    if not len(scores) or scores.max() <= 0:
        return Evidence([], missing, False)
    top = [int(c) for c in np.argsort(-scores, kind="stable")[:options.chunks] if scores[c] > 0]
    candidates = _sentences_around(index, top, decode, options.context)
    ranked = bm25_scores([s for _, _, s in candidates], question)
    order = np.argsort(-ranked, kind="stable")
    floor = max(RELATIVE * ranked[order[0]], 0) if len(order) else 0  # far weaker sentences only distract
    best = [i for i in order[:options.sentences] if ranked[i] > floor]
    same = []
    if best and _EXPLAINING.search(question):  # the reason follows what it explains, in words of its own
        same = [j for j in (best[0] + 1,) if j < len(candidates) and j not in best
                and candidates[j][:2] == candidates[best[0]][:2]]
        best = [best[0], *same] if same else best  # other matches would only distract from it
    return Evidence(_passages(index, candidates, ranked, best), missing, True, len(same))


# A question that asks for several things: "What are ...", "Who were ...", "Which towns did ...", "List ...",
# "Name the ...", or a count ("the three ...").
_PLURAL = r"(?:\w{2,}[^s\W]s|people|men|women|children)"  # "tools", "places", not "access"
_AUX = r"(?:did|do|are|were|have|had|can|could|would|will|should|must)"
_SEVERAL = re.compile(
    r"^\W*(?:list|name|enumerate|give)\b"
    r"|^\W*(?:what|which|who)\s+(?:\w+\s+){0,2}?(?:are|were)\b"
    rf"|^\W*which\s+{_PLURAL}\b"  # "which towns", not "which estate does" nor "which harpooneer shares"
    rf"|^\W*what\s+(?:\w+\s+)?{_PLURAL}\s+{_AUX}\b"  # "what tools did", not "what happens"
    r"|\b(?:two|three|four|five|six|several|all the|each of the)\b", re.I)


def asks_for_several(question: str) -> bool:
    """Whether a question asks for several things (its answer is a list)."""
    return bool(_SEVERAL.search(question))


def several_parts(index, question: str, decode: Callable[[list[int]], str], options: AnswerOptions,
                  search: ChunkSearch | None = None) -> list[Passage]:
    """The sentences that may each answer part of a several-part question, in document order (docs/recall.md,
    "Whole answers"). The parts share the question's topic: of the question's words in the best BM25 chunk (of
    its proper names, when it has any there), the one the fewest chunks hold, but at least two (a list has two
    parts; a word of one chunk is chance). Every sentence around a chunk holding the topic that holds it too is
    a candidate; the best `items` by BM25 are the parts. A topic in more than 4 x `items` chunks is no topic: no parts (the question is answered as one)."""
    search = search if search is not None else ChunkSearch(index, decode)
    bm25, scores = search.bm25, search.bm25.scores(question)
    if not len(scores) or scores.max() <= 0:
        return []
    in_best = set(bm25.terms(search.texts[int(np.argmax(scores))]))

    def rarest_first(terms: set[str]) -> list[tuple[int, str]]:  # (chunks holding it, term), 2+ chunks
        return sorted((n, term) for term in terms & in_best if (n := bm25.holding(term)) >= 2)

    held = rarest_first(set(bm25.terms(" ".join(question_names(question))))) or \
        rarest_first(set(bm25.terms(question)))
    if not held or held[0][0] > 4 * options.items:
        return []
    topic = held[0][1]
    chunks = [int(c) for c in np.flatnonzero(bm25.retriever.get_scores([topic]) > 0)]
    candidates = [c for c in _sentences_around(index, chunks, decode, options.context)
                  if topic in bm25.terms(c[2])]
    if len(candidates) < 2:
        return []
    ranked = bm25_scores([s for _, _, s in candidates], question)
    keep = sorted(np.argsort(-ranked, kind="stable")[:options.items])  # candidates are in document order
    return _passages(index, candidates, ranked, keep)


def _passages(index, candidates: list[tuple[int, int, str]], ranked, chosen) -> list[Passage]:
    """The chosen candidate sentences as Passages: their window's span and place, their BM25 score."""
    passages = [Passage(candidates[i][0], candidates[i][1], float(ranked[i]), candidates[i][2]) for i in chosen]
    for p in passages:
        p.place = index.place_at(p.start)
    return passages


def list_text(items: list[str]) -> str:
    """Items as the lines of a list (one item alone is just its text)."""
    return items[0] if len(items) == 1 else "\n".join(f"- {item}" for item in items)


def item_key(text: str) -> str:
    """What two items that say the same thing share (case, punctuation and spacing aside)."""
    return " ".join(_WORD.findall(text.lower()))


def _sentences_around(index, chunks: list[int], decode: Callable[[list[int]], str],
                      context: int) -> list[tuple[int, int, str]]:
    """(window start, window end, sentence) for the whole sentences of each chunk widened by `context` tokens
    on both sides, in the order of `chunks`, each sentence once."""
    candidates: list[tuple[int, int, str]] = []
    seen = set()
    for c in chunks:
        a, b = index.chunk_span(c)
        a, b = max(0, a - context), min(index.n_tokens, b + context)
        window = split_sentences(decode(index.ids[a:b].tolist()))
        if a > 0 and len(window) > 1 and not window[0][1][:1].isupper() and not window[0][1][:1].isdigit():
            window = window[1:]  # begins mid-sentence
        if b < index.n_tokens and len(window) > 1 and window[-1][1][-1:] not in ".!?\"'”’)":
            window = window[:-1]  # ends mid-sentence
        for _, sentence in window:
            if sentence not in seen:
                seen.add(sentence)
                candidates.append((a, b, sentence))
    return candidates


def evidence_prompt(sentences: list[str], question: str) -> str:
    """The user turn the model answers: the evidence, then the question."""
    text = "\n".join(sentences)
    return f"{text}\n\nQuestion: {question}\nAnswer the question using the text's own words."


def _stems(words) -> set[str]:
    return set(stemmer().stemWords([w.lower().strip("'’-") for w in words]))


_PARTICULAR_QUESTION = re.compile(r"^\W*(who|whom|whose|when|how (many|much|long|old|far|often))\b|"
                                  r"\b(number|code|name|named|called|date|year|mark|key|amount|price)\b", re.I)


def _particular(text: str) -> list[str]:
    """Numbers, codes and capitalised words that do not begin a sentence: what names a particular thing."""
    out = []
    for _, sentence in split_sentences(text):
        words = _WORD.findall(sentence.lstrip("\"'“‘(["))
        out += [w for i, w in enumerate(words) if any(ch.isdigit() for ch in w)
                or (w[:1].isupper() and i > 0 and w.lower() not in _ASKING)]
    return out


def supported(answer: str, evidence: list[str], question: str) -> bool:
    """Whether an answer says something the evidence says: every name or number it brings that is not in the
    question is in the evidence; at least one of its content words is the evidence's and not the question's;
    and a question that asks for a particular thing (who, when, how many, a name, number or code) gets a name
    or number of the evidence that the question does not hold."""
    if not answer.strip() or answer.rstrip().endswith(":"):  # a lead-in ("The ... are:") answers nothing
        return False
    source = " ".join(evidence)
    source_lower, question_lower = source.lower(), question.lower()
    figures = numbers(answer) - numbers(question)
    if not figures <= numbers(source):  # a number is the evidence's as written, not a piece of a longer one
        return False
    brought = [w.lower().strip("'’") for w in _particular(answer)  # names, and codes such as X9Q7 or 7th
               if not NUMBER.fullmatch(w) and w.lower().strip("'’") not in question_lower]
    if any(w not in source_lower for w in brought):
        return False
    if _PARTICULAR_QUESTION.search(question) and not brought and not figures:
        return False
    stop = stop_words() | _GENERIC
    content = [w for w in text_words(answer) if w not in stop]
    new = _stems(content) - _stems(text_words(question)) - _stems(_GENERIC)
    return bool(new & _stems(text_words(source)))


def explains(answer: str, evidence: Evidence, question: str) -> bool:
    """For a "why" or "how" question: whether the answer says something of the sentence after the one that
    matched (a content word of it that neither the question nor that sentence has), not only restates it."""
    if not evidence.following:
        return True
    after = " ".join(evidence.sentences[1:1 + evidence.following])
    said = _stems(_WORD.findall(evidence.sentences[0])) | _stems(_WORD.findall(question)) | _stems(stop_words())
    return bool((_stems(_WORD.findall(answer)) - said) & _stems(_WORD.findall(after)))


def finished_paragraph(text: str) -> bool:
    """Whether the text ends in a blank line after a finished sentence (not after a lead-in to a list ending in
    ":" or an item without a full stop): the default model's answer is done there, and goes on to comment on
    it ("In this context, the answer is ...")."""
    if not text.endswith("\n\n"):
        return False
    body = text.rstrip()
    return bool(body) and body[-1] in ".!?\"'”’)"


def repeated_line(text: str) -> str | None:
    """The text before its last complete line when that line repeats an earlier one (a model writing a list
    that starts over), else None."""
    lines = text.split("\n")[:-1]  # complete lines
    said = [" ".join(line.split()) for line in lines]
    if len(said) < 2 or not said[-1] or said[-1] not in said[:-1]:
        return None
    return "\n".join(lines[:-1]).strip()


def quoted(sentence: str) -> str:
    return f"The document says: \u201c{sentence}\u201d"
