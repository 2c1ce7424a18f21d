"""Word lists and reading rules the analyzer uses besides the parameter synonyms."""

from __future__ import annotations

import json
from importlib import resources

_WORDS = json.loads(resources.files("synapse.triz").joinpath("data").joinpath("cues.json").read_text("utf-8"))

# Function words never count as evidence for a parameter ("весь" even stems to "вес").
STOPWORDS = frozenset(_WORDS["stopwords"])
# Words that tell a moving object from a stationary one, matched by stem.
MOVING_CUES: list[str] = _WORDS["moving"]
STATIONARY_CUES: list[str] = _WORDS["stationary"]

# Parameters that come in a moving and a stationary variant: (moving, stationary).
MOVING_STATIONARY = ((1, 2), (3, 4), (5, 6), (7, 8), (15, 16), (19, 20))


# "Hard to fold", "трудно настроить": a difficulty that names no other parameter is ease of operation.
EASE_OF_OPERATION = 33
DIFFICULTY_PATTERNS = (
    r"\b(?:hard|harder|difficult|more difficult|awkward|inconvenient|tricky|tiresome|cumbersome)\s+(?:to|for)\b",
    r"\b(?:struggle|struggles|struggling)\s+to\b",
    r"\b(?:трудно|труднее|тяжело|неудобно|непросто|затруднительно|затруднен\w*|затрудняет\w*|с трудом)\b",
    r"\bсложн(?:о|ее)\s+\w+(?:ть|ться|чь)\b",
)

# Measurement accuracy and difficulty of detection: next to them, a named quantity (temperature, pressure)
# or defect (corrosion, cracks, leaks) is what is measured or detected.
MEASUREMENT = (28, 37)
MEASURED_QUANTITIES = frozenset({9, 10, 11, 13, 14, 17, 18, 21, 23})
