"""The parameters' names and synonyms as a stemmed phrase index, for matching in problem statements."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synapse.lang import Lang
from synapse.triz.cues import MOVING_STATIONARY, STOPWORDS
from synapse.triz.knowledge import TrizKnowledge
from synapse.triz.text import normalize, stem, tokens

KEY_WORD_QUALITY = 0.5  # a word taken out of a phrase of one parameter


def content_stems(text: str) -> list[str]:
    return [stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 1]


def comparative_bases(token: str) -> list[str]:
    """Positive forms an English comparative may come from: heavier→heavy, bigger→big, wider→wide."""
    for suffix in ("er", "est"):
        if token.endswith(suffix) and len(token) > len(suffix) + 2:
            root = token[: -len(suffix)]
            out = [root, root + "e"]
            if root.endswith("i"):
                out.insert(0, root[:-1] + "y")
            if len(root) > 2 and root[-1] == root[-2]:
                out.insert(0, root[:-1])
            return out
    return []


@dataclass(frozen=True)
class Phrase:
    """One name or synonym of a parameter, stemmed, with how strongly a match points to it."""

    pid: int
    stems: tuple[str, ...]  # every word stemmed, matched as a contiguous run ("hard to make")
    content: frozenset[str]  # the content words, matched in any order when there are two or more
    quality: float


@dataclass
class PhraseIndex:
    """Single-word phrases by stem, longer phrases in a list, and every phrase's text for embedding."""

    single: dict[str, list[Phrase]] = field(default_factory=dict)
    multi: list[Phrase] = field(default_factory=list)
    multi_by_word: dict[str, list[Phrase]] = field(default_factory=dict)  # each content word -> its phrases
    texts: list[str] = field(default_factory=list)
    text_pids: list[int] = field(default_factory=list)


def build_phrase_index(kb: TrizKnowledge) -> PhraseIndex:
    """Index the names and synonyms of every parameter in both languages."""
    index = PhraseIndex()
    seen: set[tuple[int, tuple[str, ...]]] = set()
    for p in kb.parameters:
        langs: tuple[Lang, ...] = ("en", "ru")
        for lc in langs:
            named = [(p.name.get(lc), 1.0)] + [(s, 0.9) for s in p.synonyms.get(lc)]
            for phrase, base in named:
                st = tuple(stem(t) for t in tokens(phrase))
                content = content_stems(phrase)
                if not content or (p.id, st) in seen:
                    continue
                seen.add((p.id, st))
                # Longer phrases are more specific evidence than a lone word.
                quality = min(1.0, base * (0.85 + 0.075 * (len(content) - 1)))
                entry = Phrase(p.id, st, frozenset(content), quality)
                if len(st) == 1:
                    index.single.setdefault(st[0], []).append(entry)
                else:
                    index.multi.append(entry)
                index.texts.append(normalize(phrase))
                index.text_pids.append(p.id)
    _add_key_words(index)
    for ph in index.multi:
        for word in ph.content:
            index.multi_by_word.setdefault(word, []).append(ph)
    return index


_CYRILLIC_WORD = re.compile(r"^[а-я]")


def _variant_group(pid: int) -> int:
    for moving, stationary in MOVING_STATIONARY:
        if pid == stationary:
            return moving
    return pid


def _add_key_words(index: PhraseIndex) -> None:
    """Let a Russian word of a longer phrase count alone when no other parameter uses it.

    Russian word order and inflection break phrase matches ("трудно обнаружить" vs "обнаружить ...
    невозможно"); a word that belongs to one parameter (or its moving/stationary twin) still points there.
    English phrases are rigid enough that their words alone mislead more than they help (measured with
    bench/triz_eval.py).
    """
    owners: dict[str, set[int]] = {}
    for ph in [*index.multi, *(p for ps in index.single.values() for p in ps)]:
        for word in ph.content:
            owners.setdefault(word, set()).add(ph.pid)
    for word, pids in owners.items():
        if not _CYRILLIC_WORD.match(word) or word in index.single or len(word) < 4:
            continue
        if len({_variant_group(p) for p in pids}) != 1:
            continue
        index.single[word] = [Phrase(pid, (word,), frozenset([word]), KEY_WORD_QUALITY) for pid in sorted(pids)]
