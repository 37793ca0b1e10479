"""Who and where: the first sentence of a document's summary (famcli.summary.summary), told from the names of its
sections (famcli.text.names), no model: the people who speak or act in most sections and the places the text
writes after "at", "in", "to" (docs/summaries.md)."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from famcli.text.names import TITLES, name_pattern

if TYPE_CHECKING:  # annotations only
    from famcli.summary.notes import Section

CAST, PLACES = 6, 3  # people and places the first sentence names (4 people: 24 of the 30 most mentioned in the
# five corpus books named by the summary; 6: 26, examples/summary_grade.py)
CANDIDATES = 30  # the most used names looked at for places
_AT = r"\b(?:at|in|to|from|near|into|towards?|through|across|reached|left|leaving|visit(?:ed|ing)?)\s+(?:the\s+)?"


def cast(sections: list[Section]) -> tuple[list[str], list[str]]:
    """The people a document is most about and its places, from the names of its sections: people are the
    names that speak or act (famcli.text.names.people) in 2 sections or more, the most named first (all
    the forms of one person counted together: `merged_mentions`); places are
    the most used of the other names (among the CANDIDATES most used) written after "at", "in", "to",
    "from"... in 40% or more of their uses (3 or more). A name inside a kept one ("Darcy" beside "Mr Darcy")
    or holding one is left out."""
    acting, used = Counter(), Counter()
    for s in sections:
        acting.update(set(s.people))
        used.update(s.names)
    text = "\n".join(s.text for s in sections)
    mentions = merged_mentions([a for a, n in acting.items() if n >= 2 and not _title(a, text)], used)
    people: list[str] = []
    for name, n in sorted(mentions.items(), key=lambda x: (-x[1], -acting[x[0]])):
        if len(people) < CAST and not _overlaps(name, people):
            people.append(name)
    places: list[str] = []
    for name, n in used.most_common(CANDIDATES):
        if len(places) == PLACES or n < 3:
            break
        if name in acting or _overlaps(name, people + places):
            continue
        pattern = name_pattern(name)
        located = len(re.findall(rf"{_AT}{pattern}\b", text))
        if located >= 3 and located >= 0.4 * len(re.findall(rf"(?<![\w-]){pattern}\b", text)):
            places.append(name)
    return [as_written(n, text) for n in people], [as_written(n, text) for n in places]


def merged_mentions(acting: list[str], used: Counter) -> Counter:
    """How often the text names each person, all the forms of one counted together: a name whose words are all in
    exactly one longer acting name is that one ("Darcy" and "Mr. Darcy", "Holmes" and "Sherlock Holmes"); one
    inside several names nobody in particular ("Bennet": Mr., Mrs., Jane and Elizabeth Bennet; "Captain":
    Captain Peleg and Captain Bildad) and counts for none."""
    def person(name: str) -> str | None:
        words = set(name.split())
        holders = [a for a in acting if a != name and (words < set(a.split()) or _titled_form(name, a, used))]
        if len(holders) == 1:
            return person(holders[0]) or holders[0]
        return name if name in acting and not holders else None

    mentions: Counter = Counter()
    for name, n in used.items():
        who = person(name)
        if who is not None:
            mentions[who] += n
    return mentions


def _titled_form(name: str, full: str, used: Counter) -> bool:
    """"Mr Holmes" is "Sherlock Holmes" where the text writes "Mr Sherlock Holmes": a title and a last name are
    one person with the full name only when the text itself joins the title to that full name (never "Mr Elizabeth
    Bennet", so Mr. Bennet is not Elizabeth)."""
    title, _, rest = name.partition(" ")
    return (title in TITLES and bool(rest) and full.split()[0] not in TITLES  # never back to a titled name:
            and set(rest.split()) < set(full.split()) and used[f"{title} {full}"] > 0)  # `person` ends


def _title(name: str, text: str) -> bool:
    """A word the text mostly writes before a name ("Captain" of Captain Peleg, Captain Bildad) is a title, not a
    person; "the Queen", written alone, is someone."""
    if " " in name:
        return False
    uses = len(re.findall(rf"(?<![\w-]){re.escape(name)}\b", text))
    return len(re.findall(rf"(?<![\w-]){re.escape(name)}\.?\s+[A-Z]", text)) >= 0.5 * max(1, uses)


def _overlaps(name: str, kept: list[str]) -> bool:
    words = set(name.split())
    return any(words <= set(k.split()) or set(k.split()) <= words for k in kept)


def as_written(name: str, text: str) -> str:
    """A name as the text most often writes it: "Mr. Darcy" where the text has the stop, "Mr Darcy" where not;
    with "the" where most of its uses have it ("the Mediterranean", "the Pequod")."""
    found = Counter(" ".join(m.split()) for m in re.findall(rf"(?<![\w-])(?:[Tt]he\s+)?{name_pattern(name)}\b",
                                                           text))
    if not found:
        return name
    written, the = Counter(), 0
    for k, n in found.items():
        article = k.lower().startswith("the ")
        written[k.split(None, 1)[1] if article else k] += n
        the += n * article
    best = written.most_common(1)[0][0]
    return f"the {best}" if the > 0.5 * sum(found.values()) else best


def cast_sentence(people: list[str], places: list[str]) -> str:
    """"It is mostly about A, B and C; its places include D and E." Nothing for a document with fewer than two
    people (a report, a log): their names would say little."""
    if len(people) < 2:
        return ""
    where = f"; its places include {_listed(places)}" if places else ""
    return f"It is mostly about {_listed(people)}{where}."


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
