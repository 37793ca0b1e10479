"""The names a passage is about: proper nouns found from capitalisation, for grounding notes and summaries.

A name is a run of capitalised words (`Mock Turtle`, `Mr. Darcy`, `Queen of Hearts`) that the text also
capitalises where no sentence starts, so sentence-initial words (`Then`, `Perhaps`) are not names. A short
list of English function words and titles keeps pronouns and words like `Chapter` out. No per-book lists:
the same rules run on any English text. (NER models would do better, but none is installable offline from
PyPI with its weights; this heuristic needs nothing and is tested in tests/test_names.py.)
"""

from __future__ import annotations

import re
from collections import Counter

TITLES = {"Mr", "Mrs", "Ms", "Miss", "Dr", "Sir", "Lady", "Lord", "Captain", "Mister", "Madame", "Monsieur",
          "Mademoiselle", "Professor", "Colonel", "Uncle", "Aunt", "Saint", "St", "King", "Queen", "Prince",
          "Princess", "Duke", "Duchess"}
# Capitalised words that are no names but name something (a number, a day, a part of a book): never a name, but
# a word an answer says ("five", "Sunday", "the letter"; famcli.answer.read.sentences_saying keeps them).
NAMING = frozenset("""One Two Three Four Five Six Seven Eight Nine Ten First Last Chapter Letter Book Volume Part
Section Page Contents Preface Introduction Appendix Note Notes Footnote End Finis Monday Tuesday Wednesday Thursday
Friday Saturday Sunday""".split())
# Capitalised words that are not names in English prose: pronouns, determiners, interjections, and the words
# above. They end a name run and never start one.
FUNCTION = set("""I I'm I'll I've I'd A An The And But Or Nor If In On At Of To For With From By As It Its He She
They We You His Her Hers Their Theirs My Mine Your Yours Our Ours Me Him Them Us This That These Those There Then
When What Whom Whose Who Why How Where Which While Though Although Yes No Not Now So Well Do Does Did Done Is Are
Was Were Be Been Being Have Has Had Having Oh Ah Alas Pray Upon After Before Very Up Out Down Over Into Still Yet
Even Only Just All Some Any Every Each Both Either Neither Such Here Let Come Go Said Says Say Sure Indeed Perhaps
Nothing Something Everything Anything Thank Thanks Good Dear Why Whatever However Therefore Besides Again Also Never
Ever Always Soon Once Twice Shall Should Would Could Will Can Must May Might Don't Can't Won't Didn't Isn't Wasn't
Aren't Couldn't Wouldn't Shouldn't Off Mind Look See Hush Hark Nay Aye O""".split()) | NAMING
# Words whose full stop ends no sentence (`Mr. Darcy`, `Capt. Ahab`): shared with notes.cut_sentences. The
# titles among them are not a name alone; `the Duchess` and `the King` are.
ABBREVIATIONS = {"Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Jr", "Sr", "Capt", "Col", "Gen", "Rev", "vs", "etc", "e.g",
                 "i.e"}
CONNECTORS = {"of", "de", "van", "von", "la", "le", "du", "del", "da"}  # inside a name: Queen of Hearts
WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*\.?|[.!?;:,\"“”‘()\[\]—_]|\n\s*\n")
SENTENCE_END = {".", "!", "?", "\"", "“", "”", "‘", ":", ";", "(", ")", "[", "]", "—", "_"}


def _runs(text: str) -> list[tuple[str, bool]]:
    """(name run, whether it starts a sentence) for every run of capitalised words."""
    tokens = WORD.findall(text)
    runs, run, at_start, start = [], [], True, True
    for tok in tokens + ["."]:
        word = tok.rstrip(".").rstrip("'’")
        base = re.split(r"['’]", word)[0]  # I'm, You're: the word before the apostrophe decides
        title = word in TITLES and tok.endswith(".")  # "Mr." does not end a sentence
        is_cap = word[:1].isupper() and base not in FUNCTION and len(word) > 1 and not word.isupper() or \
            word in TITLES and run == [] and not start
        joins = run and not tok.endswith(".") and (word in CONNECTORS or word == "the" and run[-1] == "of")
        if is_cap or joins:
            if not run:
                at_start = start
            run.append(word)
            start = tok.endswith(".") and not title
            if start:
                runs.append(_close(run, at_start))
                run = []
            continue
        if run:
            runs.append(_close(run, at_start))
            run = []
        start = tok in SENTENCE_END or tok.strip() == "" or (tok.endswith(".") and word not in TITLES)
    return [(name, s) for name, s in runs if name]


def _close(run: list[str], at_start: bool) -> tuple[str, bool]:
    while run and run[-1] in CONNECTORS:
        run.pop()
    words = [w.replace("’", "'").removesuffix("'s") for w in run]
    if len(words) == 1 and words[0] in ABBREVIATIONS & TITLES:
        return "", at_start
    return " ".join(words), at_start


def names(text: str, min_count: int = 1) -> Counter:
    """Proper names in a text with their counts. A run seen only where a sentence starts is kept when the
    text also capitalises it elsewhere (or it is more than one word)."""
    seen, mid = Counter(), set()
    for name, at_start in _runs(text):
        seen[name] += 1
        if not at_start:
            mid.add(name)
    words_mid = {w for n in mid for w in n.split()}
    keep = Counter()
    for name, n in seen.items():
        if name in mid or " " in name or name in words_mid:
            keep[name] = n
    return Counter({k: v for k, v in keep.items() if v >= min_count})


def salient(text: str, limit: int = 5, min_count: int = 2, background: Counter | None = None) -> list[str]:
    """The names a passage is most about: most frequent first; with a background (the whole document's
    counts), names frequent everywhere are ranked below those this passage uses most."""
    counts = names(text)
    if not counts:
        return []
    total = sum(counts.values())

    def score(item):
        name, n = item
        if background is None or not background.get(name):
            return n
        share = background[name] / max(1, sum(background.values()))
        return n * min(3.0, (n / total) / share) ** 0.5

    ranked = [name for name, n in sorted(counts.items(), key=score, reverse=True) if n >= min_count]
    out: list[str] = []
    for name in ranked:  # `Turtle` adds nothing next to `Mock Turtle`
        if not any(name in kept.split() or kept in name.split() for kept in out):
            out.append(name)
        if len(out) == limit:
            break
    return out


SPEECH = r"(?:said|says|cried|replied|asked|answered|thought|exclaimed|continued|added|whispered|shouted|began)"
ACTS = r"(?:went|looked|took|felt|saw|came|turned|knew|smiled|laughed|rose|sat|stood|ran|walked|answered|told)"


_NOT_OH = r"(?<!\bOh)(?<!\boh)(?<!\bO)(?<!\bAh)(?<!\bah)"  # "Oh, God!" calls out; it speaks to nobody


def people(text: str, candidates: list[str]) -> list[str]:
    """The candidates the text treats as someone who speaks, acts or is spoken to (`said Alice`, `Elizabeth
    went`, `dear Watson`, `..., Victor!”`), most such uses first; places and things (`Pemberley`, `Sperm
    Whale`) rarely take these verbs and nobody talks to them. Being spoken to is how a narrator is named: Watson
    and Victor Frankenstein tell their books as "I" and seldom "say" anything by name."""
    def uses(name: str) -> int:
        n = name_pattern(name)
        acting = rf"\b{SPEECH}\s+(?:the\s+)?{n}\b|\b{n}['’]?s?\s+(?:{SPEECH}|{ACTS})\b"
        addressed = rf"\b[Dd]ear(?:est)?\s+{n}\b|{_NOT_OH},\s*{n}\s*[!?]|{_NOT_OH},\s*{n}[!?.,]?\s*[”\"’]"
        return len(re.findall(f"{acting}|{addressed}", text))

    scored = [(uses(c), c) for c in candidates]
    return [c for n, c in sorted(scored, key=lambda x: -x[0]) if n > 0]


def name_pattern(name: str) -> str:
    """A regular expression for a name as a text may write it: "Mr Darcy" finds "Mr. Darcy" and a name broken
    across a line."""
    return re.escape(name).replace(r"\ ", r"\.?\s+")


def uses_name(text: str, name: str) -> bool:
    """Whether text uses the name as a whole word ("Ann" is not in "Anne", "Mock Turtle" not in "Mock-Turtle")."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None
