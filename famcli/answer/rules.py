"""The answer path's rules and constants, in one place (`--answer-rules` changes them for one run: an ablation).
Imports nothing of the answer path, so what only carries the rules (famcli.recall.search's options, the CLI)
does not pull the path in with them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    """The answer path's constants and rules, each with the case it is for (docs/answers.md, "Ablation").

    words      a passage's size in words (paragraphs joined or cut at sentence ends)
    pool       BM25 passages the model re-ranks (UPR)
    read       best re-ranked passages the model reads
    sentences  order the pool by the fusion of passage rank and best-sentence rank (a fact in one sentence of a
               long document); off: passage BM25 order
    rerank     re-rank the pool by log P(question | passage); off: BM25 order
    spans      candidates of the kind asked for (names, numbers) beside the model's own answer
    calibrate  a candidate's score is log P(c | passages, q) - log P(c | q); off: the first term only
    each       the model reads the passages one at a time, best first, and the first answer a sentence of the passage
               it read says is the answer; unsure, the quote is pointed at by the first of its answers that writes a
               word of its passage beyond the question's, else by its first (a 135M model reads one passage better
               than two, and two readings are two chances); off: it reads them together, once
    check      an answer needs a sentence saying it about the question's subject, and an answer to "how many" or
               "how old" a number; off: the first candidate of the first reading
    front      "Who wrote this book?" is answered from the document's front matter ("Author:", "By ..."), which the
               passages leave out (famcli.answer.front); off: as any question
    names      "Not found" when the document holds none of the names the question asks about
    gather     a question that asks for a name outright (who, the name of) is answered by the name with the most
               evidence gathered across the `gather_pool` best passages of `gather_words` words
               (famcli.answer.gather); off: the passages are read as for any question
    gather_words  the size of those passages (smaller than `words`: a name counts where it is written near the
               question's words)
    gather_pool   how many passages the evidence is gathered from
    gather_idf    a name's evidence is weighed by its inverse passage frequency; off: by its passages' BM25 alone
    gather_near   words: a name this far from the question's words counts half in a passage (0: everywhere whole)
    gather_asking the words that only ask for a name ("name", "called") are left out of the query; off: kept
    now        "Where is X?" is answered by the latest statement that places X, in document order, following the
               one who holds a thing, and "Where was X before Y?" by the place before (famcli.answer.now); off: as
               any question
    point      percent: when unsure, the sentence quoted is the one whose score is highest: (100 - point)% of the
               mean log-likelihood per token of the question after it, plus point% of that of the question followed
               by "Answer:" and the model's own answer (the model points at the sentence it read its answer from,
               even when it wrote the answer wrong); 0: the question's alone
    now_places a statement places its subject only where the model takes what it names for a place one can be in
               (now.locative); off: whatever a preposition of place names
    after      the quote, when unsure, is a sentence that shares the question's words with the sentence after it (the
               answer is often told just after the sentence that matches the question: "Was it not Moby Dick that
               took off thy leg?" after "Captain Ahab," said Starbuck); off: the sentence alone (a why or how
               question's is always the two)"""

    words: int = 250
    pool: int = 10
    read: int = 2
    sentences: bool = True
    rerank: bool = False
    spans: bool = False
    calibrate: bool = False
    each: bool = True
    check: bool = True
    point: int = 50
    after: bool = True
    names: bool = True
    front: bool = True
    gather: bool = True
    gather_words: int = 120
    gather_pool: int = 100
    gather_idf: bool = True
    gather_near: int = 10
    gather_asking: bool = True
    now: bool = True
    now_places: bool = True
    ZERO_IS_OFF = frozenset({"gather_near", "point"})

    @classmethod
    def parse(cls, text: str) -> "Rules":
        """`--answer-rules "rerank=off,pool=20"`: the defaults with the named rules changed (an ablation)."""
        import dataclasses

        from famcli.common.errors import UserError

        changes, fields = {}, {f.name: f.type for f in dataclasses.fields(cls)}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            name = name.strip().replace("-", "_")
            if name not in fields or not value.strip():
                raise UserError(f"--answer-rules: {item!r} is not name=value with a name among {', '.join(fields)}")
            value = value.strip().lower()
            if fields[name] in ("bool", bool):
                if value not in ("on", "off", "true", "false", "1", "0"):
                    raise UserError(f"--answer-rules: {name} is on or off, not {value!r}")
                changes[name] = value in ("on", "true", "1")
            elif not value.isdigit() or int(value) < (0 if name in cls.ZERO_IS_OFF else 1):
                least = 0 if name in cls.ZERO_IS_OFF else 1
                raise UserError(f"--answer-rules: {name} is a whole number of at least {least}, not {value!r}")
            else:
                changes[name] = int(value)
        return dataclasses.replace(cls(), **changes)
