"""Chat profiles and starters: which agent model a chat uses, and example problems in both languages."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from synapse.client import ModelInfo
from synapse.lang import Lang


class Profile(BaseModel):
    """A chat profile: its name in the UI and the SYNAPSE model it talks to by default."""

    name: str
    model: str
    description: dict[Lang, str]


TRIZ_PROFILE = Profile(
    name="TRIZ agent (TD-010v2)",
    model="triz-agent",
    description={
        "en": "The TD-010v2 TRIZ model with retrieval from the knowledge base and the contradiction analyzer.",
        "ru": "Модель ТРИЗ TD-010v2 с поиском по базе знаний и анализатором противоречий.",
    },
)
BASE_PROFILE = Profile(
    name="Base model",
    model="triz-agent-base",
    description={
        "en": "The baseline model with the same retrieval and analysis, for comparison.",
        "ru": "Базовая модель с тем же поиском и анализом — для сравнения.",
    },
)
PROFILES = (TRIZ_PROFILE, BASE_PROFILE)
AUTO_DESCRIPTION: dict[Lang, str] = {
    "en": "SYNAPSE picks the profile whose knowledge and documents fit the question.",
    "ru": "SYNAPSE сам выбирает профиль, чьи знания и документы ближе к вопросу.",
}


def profiles_from_models(models: Sequence[ModelInfo]) -> tuple[Profile, ...]:
    """The chat profiles for SYNAPSE's agent models (its profiles, `auto`): the two built-in ones with their
    own names, then each other profile under its model name with SYNAPSE's description."""
    own = [m for m in models if m.owned_by == "synapse"]
    builtin = {p.model: p for p in PROFILES}
    out = [builtin[m.id] for m in own if m.id in builtin] or list(PROFILES)
    for m in own:
        if m.id not in builtin:
            text = m.description or m.id
            description: dict[Lang, str] = AUTO_DESCRIPTION if m.id == "auto" else {"en": text, "ru": text}
            out.append(Profile(name=m.id, model=m.id, description=description))
    return tuple(out)


def profile_named(name: str | None) -> Profile:
    """The profile with this name: a built-in one, else the SYNAPSE profile of that model name; the TRIZ agent
    when none is chosen."""
    if not name:
        return TRIZ_PROFILE
    found = next((p for p in PROFILES if p.name == name), None)
    return found or Profile(name=name, model=name, description={"en": name, "ru": name})


#: (label, problem) pairs shown as starters on an empty chat.
STARTERS: dict[Lang, list[tuple[str, str]]] = {
    "en": [
        ("Boiler pressure", "The higher the pressure in the boiler, the greater the risk that its shell bursts."),
        ("Light but strong", "The frame of a drone must be stronger, but every gram of weight shortens its flight."),
        ("Fast but precise", "We want the machine to cut faster, but then the accuracy of the cut drops."),
        ("Explain a principle", "Explain TRIZ principle 15 (Dynamics) with an engineering example."),
    ],
    "ru": [
        ("Давление в котле", "Чем выше давление в котле, тем больше риск разрушения корпуса."),
        ("Лёгкий и прочный", "Раму дрона нужно сделать прочнее, но каждый грамм веса сокращает время полёта."),
        ("Быстро и точно", "Хотим, чтобы станок резал быстрее, но тогда падает точность реза."),
        ("Объясни принцип", "Объясни принцип ТРИЗ 15 (динамичность) на инженерном примере."),
    ],
}
