"""The texts the chat shows: names of sources, the principles card, retrieval and warnings lines."""

from __future__ import annotations

from synapse.client import RetrievalFacts, SourceItem, TrizSummary
from terminal.render import principles_card, retrieval_summary, source_body, source_name, ui_lang, warnings_block


def test_source_names_are_numbered_short_and_markdown_safe() -> None:
    name = source_name(3, SourceItem(id="x", title="[Draft] *pump* (v2) " + "long " * 30))
    assert name.startswith("3. Draft pump v2 long")
    assert not set("[]()*") & set(name) and len(name) <= 64 and name.endswith("…")
    assert source_name(1, SourceItem(id="doc-7", title="")) == "1. doc-7"


def test_source_body_names_its_origin_in_the_ui_language() -> None:
    source = SourceItem(id="d", kind="document", title="Manual", snippet="Text.", score=0.5, document="m.pdf", page=2)
    assert "Origin: your document — m.pdf, page 2 · score 0.50" in source_body(source, "en")
    assert "Откуда: ваш документ — m.pdf, стр. 2" in source_body(source, "ru")


def test_principles_card() -> None:
    triz = TrizSummary.model_validate(
        {
            "contradictions": [
                {
                    "improving": {"id": 11, "name": "Напряжение, давление"},
                    "worsening": {"id": 14, "name": "Прочность"},
                    "principles": [{"id": 10, "name": "Предварительное действие"}],
                }
            ],
            "lang": "ru",
        }
    )
    card = principles_card(triz, "ru")
    assert card is not None
    assert "Улучшается: **11. Напряжение, давление**" in card and "Принципы: 10. Предварительное действие" in card
    assert principles_card(None, "en") is None
    assert principles_card(TrizSummary(message="no contradiction found"), "en") == "no contradiction found"


def test_retrieval_and_warning_lines() -> None:
    assert (
        retrieval_summary(RetrievalFacts(mode="mix", elapsed_ms=41.6, count=5), "en") == "mode mix · 42 ms · 5 sources"
    )
    assert retrieval_summary(RetrievalFacts(mode="off"), "ru") == "поиск выключен"
    assert warnings_block([], "en") == ""
    assert warnings_block(["no retrieval", "demo model"], "en").count("> ⚠️ **Warning:**") == 2
    assert ui_lang("ru-RU") == "ru" and ui_lang("en-GB") == "en" and ui_lang(None) == "en"
