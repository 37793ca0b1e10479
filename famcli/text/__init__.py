"""The small tools for words every part of famcli uses, each built once: the Snowball English stemmer and the
stop-word lists here; folding, words and numbers (words), sentences (sentences), and the names a text uses and
who among them is a person (names). One text toolkit, where there were a Stemmer per call and a list per module.

May import: famcli.common (docs/design.md, section 11). No model, no torch.
"""

from __future__ import annotations

import re
from functools import cache


@cache
def stemmer():
    """The Snowball English stemmer (PyStemmer), one for the process."""
    import Stemmer

    return Stemmer.Stemmer("english")


@cache
def stop_words() -> frozenset[str]:
    """bm25s's English stop words (33): what BM25 indexes leave out."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@cache
def stop_words_plus() -> frozenset[str]:
    """NLTK's English list as bm25s ships it (pronouns, auxiliaries, determiners): for checks that compare the
    content of two texts."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def stem_bag(text: str) -> list[str]:
    """A text's content words as Snowball stems: lower case, three letters or more in any script (a Russian or
    Greek text has words too; "café" is one), `stop_words` left out (the tokenising of LexRank and of the
    centroid score, famcli.summary.extract and famcli.summary.telling)."""
    stop = stop_words()
    return stemmer().stemWords([w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 2 and w not in stop])
