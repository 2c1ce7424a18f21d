"""What a capable LLM answers to LightRAG 1.5.7's prompts, for the fake Ollama server (`tests.support.fake_ollama`).

Entity extraction names the capitalised phrases of each sentence of the chunk (a document's proper
nouns: "Helios Aerospace", "Falcon Bracket"), relates the phrases that share a sentence, and writes
the records in LightRAG's delimiter format (or its JSON format when asked for JSON). Keyword
extraction and description summaries get the JSON and the text LightRAG expects. The model is
deterministic, so tests can say which entities must land in the graph.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from lightrag.prompt import PROMPTS  # type: ignore[import-untyped]

TUPLE = str(PROMPTS["DEFAULT_TUPLE_DELIMITER"])
COMPLETE = str(PROMPTS["DEFAULT_COMPLETION_DELIMITER"])
_INPUT = re.compile(r"---Input Text---\s*```\n(?P<text>.*?)\n```", re.S)
_QUERY = re.compile(r"User Query:(?P<query>.*?)\n\s*---Output---", re.S)
_TOKEN = re.compile(r"[^\W\d_][\w-]*|[^\w\s]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Capitalised only because they open a sentence: never a name on their own.
_OPENERS = frozenset(
    re.findall(
        r"\w+",
        "the a an our this that these those its their in on at for with by and but it we they after before "
        "when then to of if as all each every some since while both who what which where how why is are does do",
    )
)
# Entity types by a word of the name; anything else is an artifact (the test documents are engineering notes).
_TYPES = {"aerospace": "Organization", "labs": "Organization", "institute": "Organization", "toulouse": "Location"}


def named_phrases(sentence: str) -> list[str]:
    """The capitalised phrases of a sentence, in order, without duplicates."""
    phrases: list[str] = []
    current: list[str] = []
    for token in [*_TOKEN.findall(sentence), "."]:
        word = token[0].isalpha() and token[0].isupper()
        if word and not (not current and token.lower() in _OPENERS):
            current.append(token)
            continue
        if current and " ".join(current) not in phrases:
            phrases.append(" ".join(current))
        current = []
    return phrases


def extraction(text: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Entities (name, type, description) and relations (source, target, keywords, description) of a text."""
    entities: dict[str, dict[str, str]] = {}
    relations: dict[tuple[str, str], dict[str, str]] = {}
    for sentence in _SENTENCE.split(" ".join(text.split())):
        names = named_phrases(sentence)
        for name in names:
            kind = next((t for w, t in _TYPES.items() if w in name.lower().split()), "Artifact")
            entity = entities.setdefault(name, {"name": name, "type": kind, "description": f"{name} appears in: "})
            entity["description"] += sentence + " "
        for source, target in itertools.pairwise(names):
            key = (source, target) if source < target else (target, source)
            if key not in relations:
                relations[key] = {
                    "source": source,
                    "target": target,
                    "keywords": "mentioned together",
                    "description": sentence,
                }
    for entity in entities.values():
        entity["description"] = entity["description"].strip()
    return list(entities.values()), list(relations.values())


def extraction_records(text: str) -> str:
    """The delimiter-format answer to LightRAG's entity-extraction prompt."""
    entities, relations = extraction(text)
    rows = [TUPLE.join(["entity", e["name"], e["type"], e["description"]]) for e in entities]
    rows += [TUPLE.join(["relation", r["source"], r["target"], r["keywords"], r["description"]]) for r in relations]
    return "\n".join([*rows, COMPLETE])


def _messages(request: dict[str, Any]) -> tuple[str, str]:
    messages = request.get("messages") or []
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    user = str(messages[-1].get("content", "")) if messages else ""
    return system, user


def lightrag_reply(request: dict[str, Any]) -> str:
    """The reply to one /api/chat request from LightRAG's Ollama binding."""
    system, user = _messages(request)
    wants_json = request.get("format") is not None
    if "Based on the last extraction task" in user:
        # Gleaning: the first answer missed nothing.
        return '{"entities": [], "relationships": []}' if wants_json else COMPLETE
    if "Knowledge Graph Specialist" in system and (match := _INPUT.search(user)):
        if wants_json:
            entities, relations = extraction(match["text"])
            return json.dumps({"entities": entities, "relationships": relations}, ensure_ascii=False)
        return extraction_records(match["text"])
    if "keyword extractor" in user + system and (match := _QUERY.search(user + "\n" + system)):
        query = match["query"].strip()
        low = named_phrases(query)
        high = [w for w in re.findall(r"\w{5,}", query.lower()) if w not in {p.lower() for p in low}][:5]
        return json.dumps({"high_level_keywords": high, "low_level_keywords": low}, ensure_ascii=False)
    if "Description List" in user + system:
        listing = (user + system).split("Description List:", 1)[1]
        texts = [json.loads(line).get("Description", "") for line in listing.splitlines() if line.startswith("{")]
        return " ".join(t for t in texts if t) or "A merged description."
    return "I only answer LightRAG's prompts."
