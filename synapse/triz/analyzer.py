"""Find the technical contradiction(s) in a free-text problem statement, offline."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from pathlib import Path

import numpy as np

from synapse.embeddings.base import Embedder, Vectors
from synapse.errors import InvalidProblemError
from synapse.triz.clauses import Part, split_statement
from synapse.triz.cues import (
    DIFFICULTY_PATTERNS,
    EASE_OF_OPERATION,
    MEASURED_QUANTITIES,
    MEASUREMENT,
    MOVING_CUES,
    MOVING_STATIONARY,
    STATIONARY_CUES,
    STOPWORDS,
)
from synapse.triz.knowledge import TrizKnowledge, load_knowledge
from synapse.triz.lexicon import KEY_WORD_QUALITY, Phrase, build_phrase_index, comparative_bases
from synapse.triz.lookup import parameter_ref, principle_refs
from synapse.triz.models import Analysis, Candidate
from synapse.triz.text import normalize, resolve_lang, stem, tokens

log = logging.getLogger(__name__)

MAX_PROBLEM_CHARS = 4000
MIN_SIDE_SCORE = 0.3  # below this a parameter is not considered present on a side
EMB_FLOOR, EMB_CEIL = 0.55, 0.9  # cosine range mapped onto 0..1 evidence
EMB_WEIGHT = 0.8  # embedding evidence alone never counts as much as an exact phrase
DESC_WEIGHT = 0.3  # how much the best-fitting parameter description adds
DESC_SHARPNESS = 2.0  # favours the top descriptions over the merely related
UNORDERED_FACTOR = 0.85  # a phrase found with its words in another order
UNORDERED_SLACK = 3  # other content words allowed between them
DIFFICULTY_SCORE = 0.77  # a bare "hard to ..." counts like one synonym of ease of operation
MEASURED_PENALTY = 0.8  # a physical quantity named next to its measurement
VARIANT_PENALTY = 0.75  # the moving/stationary variant that the cues speak against
UNSPLIT_FACTOR = 0.85  # a statement without a contrast marker is less certain
EMPTY_CELL_FACTOR = 0.9  # prefer pairs the matrix can answer

_MESSAGES = {
    "en": "No technical contradiction recognised: state what should improve and what gets worse "
    "(e.g. 'X gets better, but Y gets worse').",
    "ru": "Техническое противоречие не распознано: опишите, что нужно улучшить и что при этом ухудшается "
    "(например, «X улучшается, но Y ухудшается»).",
}


def _near(seq: list[str], is_content: list[bool], words: frozenset[str]) -> list[int] | None:
    """Positions of `words` in `seq` lying within a short window of content words, if any."""
    content_pos = [i for i, c in enumerate(is_content) if c]
    window = len(words) + UNORDERED_SLACK
    for start in range(len(content_pos)):
        chosen: dict[str, int] = {}
        for i in content_pos[start : start + window]:
            if seq[i] in words:
                chosen.setdefault(seq[i], i)
        if len(chosen) == len(words):
            return sorted(chosen.values())
    return None


class ContradictionAnalyzer:
    """Ranks (improving, worsening) parameter pairs for a problem statement, in Russian or English.

    Evidence per side comes from the parameters' names and synonyms (stemmed phrase matches) and,
    when an embedder is given, from embedding similarity between the statement's word n-grams and
    those phrases, which catches wordings the lexicon lacks and crosses languages.
    """

    def __init__(
        self,
        kb: TrizKnowledge | None = None,
        embedder: Embedder | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.kb = kb or load_knowledge()
        self.embedder = embedder
        self._index = build_phrase_index(self.kb)
        self._pids = np.asarray(self._index.text_pids)
        self._known = set(self._index.single) | {s for ph in self._index.multi for s in ph.content}
        self._desc_texts = [p.description.get(lc) for lc in ("en", "ru") for p in self.kb.parameters]
        self._phrase_vecs: Vectors | None = None
        self._desc_vecs: Vectors | None = None
        self._cache_dir = cache_dir
        self._moving = {stem(w) for w in MOVING_CUES}
        self._stationary = {stem(w) for w in STATIONARY_CUES}

    @property
    def method(self) -> str:
        return "embedding" if self.embedder is not None else "lexicon"

    # ---- evidence ---------------------------------------------------------------------------

    def _phrase_vectors(self) -> Vectors:
        """Vectors of the synonym phrases, then of the descriptions (one cached array)."""
        if self._phrase_vecs is None:
            assert self.embedder is not None
            texts = [*self._index.texts, *self._desc_texts]
            key = hashlib.sha256("\n".join([self.embedder.name, *texts]).encode("utf-8")).hexdigest()[:16]
            path = self._cache_dir / f"phrases-{self.embedder.name}-{key}.npy" if self._cache_dir else None
            if path is not None and path.exists():
                vecs = np.load(path)
            else:
                t0 = time.perf_counter()
                vecs = self.embedder.embed(texts)
                log.info("embedded %d parameter phrases in %.1f s", len(vecs), time.perf_counter() - t0)
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(".tmp.npy")
                    np.save(tmp, vecs)
                    tmp.replace(path)
                    # Vectors of earlier versions of the lexicon are never read again.
                    for stale in path.parent.glob(f"phrases-{self.embedder.name}-*.npy"):
                        if stale != path:
                            stale.unlink(missing_ok=True)
            n = len(self._index.texts)
            self._phrase_vecs, self._desc_vecs = vecs[:n], vecs[n:]
        return self._phrase_vecs

    def warm_up(self) -> None:
        """Load the embedder and the phrase vectors now rather than on the first question."""
        if self.embedder is not None:
            self._phrase_vectors()
            self.embedder.embed(["warm-up"])  # loads the model weights

    def _sequence(self, text: str) -> tuple[list[str], list[bool]]:
        """Stems of every word, and which are content words; an English comparative whose own stem is
        unknown is mapped to a known base (heavier -> heavy)."""
        seq: list[str] = []
        content: list[bool] = []
        for t in tokens(text):
            s = stem(t)
            if s not in self._known:
                s = next((b for b in map(stem, comparative_bases(t)) if b in self._known), s)
            seq.append(s)
            content.append(t not in STOPWORDS and len(t) > 1)
        return seq, content

    def _stems(self, text: str) -> list[str]:
        seq, content = self._sequence(text)
        return [s for s, c in zip(seq, content, strict=True) if c]

    def _multi_phrases(self, words: set[str]) -> list[Phrase]:
        """The longer phrases that share a content word with the text: only these can match."""
        seen: dict[int, Phrase] = {}
        for word in words:
            for ph in self._index.multi_by_word.get(word, []):
                seen.setdefault(id(ph), ph)
        return list(seen.values())

    def _lexical(self, part: Part) -> dict[int, float]:
        seq, is_content = self._sequence(part.text)
        found: dict[int, dict[tuple[str, ...], float]] = {}
        covered = self._phrase_matches(seq, is_content, found)
        for pos, s in enumerate(seq):
            if not is_content[pos]:
                continue
            for ph in self._index.single.get(s, []):
                owners = covered.get(pos)
                if owners is None or ph.pid in owners:
                    found.setdefault(ph.pid, {})[ph.stems] = ph.quality
        # Several phrases for one parameter add up, with diminishing returns.
        scores = {pid: 1 - math.prod(1 - q for q in qs.values()) for pid, qs in found.items()}
        if any(re.search(p, normalize(part.text)) for p in DIFFICULTY_PATTERNS):
            scores[EASE_OF_OPERATION] = max(scores.get(EASE_OF_OPERATION, 0.0), DIFFICULTY_SCORE)
        return {pid: part.weight * s for pid, s in scores.items()}

    def _phrase_matches(
        self, seq: list[str], is_content: list[bool], found: dict[int, dict[tuple[str, ...], float]]
    ) -> dict[int, set[int]]:
        """Record the multi-word phrases in `seq` into `found`; the positions each covers, and for which parameters.

        A word inside a matched phrase means what the phrase means: "takes longer" is time, not length.
        """
        content_set = {s for s, c in zip(seq, is_content, strict=True) if c}
        covered: dict[int, set[int]] = {}
        for ph in self._multi_phrases(content_set):
            n = len(ph.stems)
            starts = [i for i in range(len(seq) - n + 1) if tuple(seq[i : i + n]) == ph.stems]
            span: list[int] | None = [k for i in starts for k in range(i, i + n)] if starts else None
            quality = ph.quality
            if span is None and len(ph.content) > 1 and ph.content <= content_set:
                # The same words in another order ("дольше служили" for "служили дольше"), close together.
                near = _near(seq, is_content, ph.content)
                span, quality = (list(near), ph.quality * UNORDERED_FACTOR) if near is not None else (None, quality)
            if span is not None:
                found.setdefault(ph.pid, {})[ph.stems] = quality
                for k in span:
                    covered.setdefault(k, set()).add(ph.pid)
        return covered

    def _ngrams(self, part: Part) -> list[str]:
        words = [t for t in tokens(part.text) if t not in STOPWORDS and len(t) > 2]
        grams = {" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
        return sorted(grams)

    def _semantic(self, parts: list[Part]) -> list[dict[int, float]]:
        """Embedding evidence per part: its n-grams against the synonym phrases, the whole part against
        the parameters' descriptions (relative to the best-fitting description)."""
        if self.embedder is None:
            return [{} for _ in parts]
        grams = [self._ngrams(p) for p in parts]
        flat = [g for gs in grams for g in gs]
        vecs = self.embedder.embed(flat + [p.text for p in parts])
        phrase_sims = vecs[: len(flat)] @ self._phrase_vectors().T
        assert self._desc_vecs is not None
        n_params = len(self.kb.parameters)
        desc_sims = (vecs[len(flat) :] @ self._desc_vecs.T).reshape(len(parts), 2, n_params).max(axis=1)
        out: list[dict[int, float]] = []
        row = 0
        for k, (part, gs) in enumerate(zip(parts, grams, strict=True)):
            best = np.zeros(n_params + 1, dtype=np.float32)
            if gs:
                np.maximum.at(best, self._pids, phrase_sims[row : row + len(gs)].max(axis=0))
            row += len(gs)
            phrase_ev = np.clip((best[1:] - EMB_FLOOR) / (EMB_CEIL - EMB_FLOOR), 0.0, 1.0) * EMB_WEIGHT
            d = desc_sims[k]
            rel = np.clip((d - d.mean()) / max(float(d.max() - d.mean()), 1e-6), 0.0, 1.0)
            desc_ev = DESC_WEIGHT * rel**DESC_SHARPNESS
            combined = 1 - (1 - phrase_ev) * (1 - desc_ev)
            out.append({pid: part.weight * float(combined[pid - 1]) for pid in range(1, n_params + 1)})
        return out

    def _side_scores(self, parts: list[Part], semantic: list[dict[int, float]]) -> dict[int, float]:
        scores: dict[int, float] = {}
        measuring = False
        for part, sem in zip(parts, semantic, strict=True):
            lex = self._lexical(part)
            measuring = measuring or any(lex.get(pid, 0.0) >= 0.5 for pid in MEASUREMENT)
            for pid in set(lex) | {k for k, v in sem.items() if v > 0}:
                s = 1 - (1 - lex.get(pid, 0.0)) * (1 - sem.get(pid, 0.0))
                scores[pid] = max(scores.get(pid, 0.0), s)
        if measuring:
            # "Measuring the temperature": the quantity is what is measured, not what should change.
            for pid in MEASURED_QUANTITIES & scores.keys():
                scores[pid] *= MEASURED_PENALTY
        return scores

    def _apply_variant_cues(self, scores: dict[int, float], seq: set[str]) -> None:
        moving = len(seq & self._moving)
        stationary = len(seq & self._stationary)
        if moving == stationary:
            return
        for mov, sta in MOVING_STATIONARY:
            best = max(scores.get(mov, 0.0), scores.get(sta, 0.0))
            if best == 0.0:
                continue
            keep, drop = (sta, mov) if stationary > moving else (mov, sta)
            scores[keep] = best
            scores[drop] = best * VARIANT_PENALTY

    # ---- ranking ----------------------------------------------------------------------------

    def analyze(self, problem: str, lang: str = "auto", top: int = 3) -> Analysis:
        """The `top` most likely technical contradictions in `problem`."""
        text = _checked(problem, top)
        code = resolve_lang(text, lang)
        split = split_statement(text)
        unsplit = not split.worsening
        if unsplit:
            parts = [Part(text=normalize(text))]
            sides = [parts, parts]
        else:
            sides = [split.improving, split.worsening]
        semantic = self._semantic([p for side in sides for p in side])
        improving = self._side_scores(sides[0], semantic[: len(sides[0])])
        worsening = self._side_scores(sides[1], semantic[len(sides[0]) :])
        seq = set(self._stems(text))
        self._apply_variant_cues(improving, seq)
        self._apply_variant_cues(worsening, seq)
        order = {pid: i for i, pid in enumerate(self._mention_order(text))} if unsplit else None
        ranked = self._ranked(improving, worsening, order)
        candidates = [
            Candidate(
                improving=parameter_ref(self.kb.parameter(i), code),
                worsening=parameter_ref(self.kb.parameter(j), code),
                score=round(score, 3),
                principles=principle_refs(cell.principles if (cell := self.kb.cell(i, j)) else [], code, self.kb),
            )
            for score, i, j in ranked[:top]
        ]
        return Analysis(
            candidates=candidates,
            lang=code,
            method=self.method,
            message=None if candidates else _MESSAGES[code],
        )

    def _ranked(
        self, improving: dict[int, float], worsening: dict[int, float], order: dict[int, int] | None
    ) -> list[tuple[float, int, int]]:
        """Parameter pairs by score; `order` (a statement without a marker): where each is first mentioned."""
        ranked: list[tuple[float, int, int]] = []
        for i, si in improving.items():
            for j, sj in worsening.items():
                if i == j or si < MIN_SIDE_SCORE or sj < MIN_SIDE_SCORE:
                    continue
                score = math.sqrt(si * sj)
                if order is not None:
                    # Without a marker both parameters must be named, the first is the one to improve.
                    if i not in order or j not in order or order[i] >= order[j]:
                        continue
                    score *= UNSPLIT_FACTOR
                if self.kb.cell(i, j) is None:
                    score *= EMPTY_CELL_FACTOR
                ranked.append((score, i, j))
        ranked.sort(key=lambda r: (-r[0], r[1], r[2]))
        return ranked

    def _mention_order(self, text: str) -> list[int]:
        """Parameters in the order their first lexical evidence appears in the text."""
        seq, is_content = self._sequence(text)
        first: dict[int, int] = {}
        for pos in range(len(seq)):
            for ph in self._index.single.get(seq[pos], []) if is_content[pos] else []:
                if ph.quality > KEY_WORD_QUALITY:  # a bare key word is too weak to name a parameter here
                    first.setdefault(ph.pid, pos)
            for ph in self._index.multi_by_word.get(seq[pos], []) if is_content[pos] else []:
                if ph.stems[0] == seq[pos] and tuple(seq[pos : pos + len(ph.stems)]) == ph.stems:
                    first.setdefault(ph.pid, pos)
        return sorted(first, key=lambda pid: first[pid])


def _checked(problem: str, top: int) -> str:
    """The problem text stripped; InvalidProblemError when it is empty, too long, or `top` is below 1."""
    text = (problem or "").strip()
    if not text:
        raise InvalidProblemError("the problem text is empty", "describe what should improve and what gets worse")
    if len(text) > MAX_PROBLEM_CHARS:
        raise InvalidProblemError(
            f"the problem text is {len(text)} characters long",
            f"keep it under {MAX_PROBLEM_CHARS}: one or two sentences on the contradiction",
        )
    if top < 1:
        raise InvalidProblemError(f"--top must be at least 1, got {top}", "use e.g. --top 3")
    return text
