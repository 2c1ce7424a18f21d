"""Look-ups in the TRIZ knowledge: parameters by number or name, matrix cells, principle cards."""

from __future__ import annotations

import difflib

from synapse.errors import SynapseError, UnknownParameterError, UnknownPrincipleError
from synapse.lang import Lang
from synapse.triz.knowledge import TrizKnowledge, load_knowledge
from synapse.triz.models import (
    N_PRINCIPLES,
    MatrixAnswer,
    Parameter,
    ParameterRef,
    PrincipleCard,
    PrincipleRef,
    SubPrincipleCard,
)
from synapse.triz.text import detect_lang, normalize


def parameter_ref(p: Parameter, lang: Lang) -> ParameterRef:
    return ParameterRef(id=p.id, name=p.name.get(lang))


def principle_refs(ids: list[int], lang: Lang, kb: TrizKnowledge | None = None) -> list[PrincipleRef]:
    kb = kb or load_knowledge()
    return [PrincipleRef(id=i, name=kb.principle(i).name.get(lang)) for i in ids]


def _names(p: Parameter) -> list[str]:
    return [normalize(p.name.en), normalize(p.name.ru)]


def _unique(matches: list[Parameter]) -> Parameter | None:
    ids = {p.id for p in matches}
    return matches[0] if len(ids) == 1 else None


def resolve_parameter(query: str, kb: TrizKnowledge | None = None) -> Parameter:
    """The parameter meant by a number ("14"), a name or a name's beginning in either language, or a synonym."""
    kb = kb or load_knowledge()
    raw = query.strip()
    if raw.isdigit():
        n = int(raw)
        if 1 <= n <= len(kb.parameters):
            return kb.parameter(n)
        raise UnknownParameterError(raw, [])
    q = normalize(raw)
    if not q:
        raise UnknownParameterError(raw, [])
    exact = [p for p in kb.parameters if q in _names(p)]
    if exact:
        return exact[0]
    partial = [p for p in kb.parameters if any(n.startswith(q) or f" {q}" in f" {n}" for n in _names(p))]
    if (hit := _unique(partial)) is not None:
        return hit
    by_synonym = [p for p in kb.parameters if q in {normalize(s) for s in p.synonyms.en + p.synonyms.ru}]
    if not partial and (hit := _unique(by_synonym)) is not None:
        return hit
    ambiguous = partial or by_synonym
    if ambiguous:
        suggestions = [f"{p.id} {p.name.get(detect_lang(raw))}" for p in ambiguous][:6]
        raise UnknownParameterError(raw, suggestions)
    raise UnknownParameterError(raw, suggest_parameters(q, kb))


def suggest_parameters(query: str, kb: TrizKnowledge | None = None, n: int = 5) -> list[str]:
    """Names closest to a mistyped parameter, as "id name" strings in the query's language."""
    kb = kb or load_knowledge()
    lang = detect_lang(query)
    keys: dict[str, Parameter] = {}
    for p in kb.parameters:
        for key in [*_names(p), *(normalize(w) for n_ in _names(p) for w in n_.split() if len(w) > 3)]:
            keys.setdefault(key, p)
    close = difflib.get_close_matches(normalize(query), list(keys), n=n * 3, cutoff=0.5)
    out: list[str] = []
    for key in close:
        label = f"{keys[key].id} {keys[key].name.get(lang)}"
        if label not in out:
            out.append(label)
    return out[:n]


def matrix_lookup(improving: str, worsening: str, lang: str = "auto") -> MatrixAnswer:
    """What the contradiction matrix recommends when `improving` gets better and `worsening` worse."""
    kb = load_knowledge()
    imp, wor = resolve_parameter(improving, kb), resolve_parameter(worsening, kb)
    code: Lang = (
        lang  # type: ignore[assignment]
        if lang in ("en", "ru")
        else ("ru" if "ru" in (detect_lang(improving), detect_lang(worsening)) else "en")
    )
    if imp.id == wor.id:
        raise SynapseError(
            f"parameter {imp.id} cannot both improve and worsen: that is a physical contradiction",
            "resolve it with the separation principles (space, time, condition, system level)",
        )
    cell = kb.cell(imp.id, wor.id)
    note = None
    if cell is None:
        note = (
            "пустая клетка матрицы: попробуйте принципы разделения или соседнюю пару параметров"
            if code == "ru"
            else "the matrix cell is empty: try the separation principles or a neighbouring pair of parameters"
        )
    elif cell.disputed:
        note = f"sources disagreed on this cell (votes {cell.votes}{'; ' + cell.note if cell.note else ''})"
    return MatrixAnswer(
        improving=parameter_ref(imp, code),
        worsening=parameter_ref(wor, code),
        principles=principle_refs(cell.principles if cell else [], code, kb),
        disputed=bool(cell and cell.disputed),
        note=note,
        lang=code,
    )


def principle_card(number: int | str, lang: Lang = "en") -> PrincipleCard:
    """The texts of one inventive principle in one language."""
    kb = load_knowledge()
    text = str(number).strip()
    if not text.isdigit() or not 1 <= int(text) <= N_PRINCIPLES:
        raise UnknownPrincipleError(text)
    p = kb.principle(int(text))
    return PrincipleCard(
        id=p.id,
        name=p.name.get(lang),
        description=p.description.get(lang),
        sub_principles=[SubPrincipleCard(label=s.label, text=s.text.get(lang)) for s in p.sub_principles],
        examples=[e.get(lang) for e in p.examples],
        separation=[s.name.get(lang) for s in kb.separations_of(p.id)],
        lang=lang,
    )
