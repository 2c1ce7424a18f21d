"""The settings model of each service, read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from synapse.config.base import ServiceSettings, env_config, service_dir

Lang = Literal["auto", "en", "ru"]


def _normalize_ollama_host(value: str) -> str:
    # Ollama itself accepts "host", "host:port" and full URLs in OLLAMA_HOST; the client needs a URL.
    value = value.strip() or "127.0.0.1"
    if "://" not in value:
        value = f"http://{value}"
    parts = urlsplit(value)
    host = parts.hostname or "127.0.0.1"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    port = parts.port or 11434
    return f"{parts.scheme}://{host}:{port}"


class OllamaSettings(ServiceSettings):
    """Where the Ollama server is (the standard OLLAMA_HOST variable)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    host: str = Field(default="http://127.0.0.1:11434", validation_alias=AliasChoices("OLLAMA_HOST"))

    @field_validator("host")
    @classmethod
    def _url(cls, value: str) -> str:
        return _normalize_ollama_host(value)


class SynapseSettings(ServiceSettings):
    """SYNAPSE: the connector, the agent API and the TRIZ core (prefix SYNAPSE_)."""

    model_config = env_config("SYNAPSE_")

    data_dir: Path = Field(default_factory=lambda: service_dir("synapse"))
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr = SecretStr("")
    cortex_url: str = ""
    embedder: str = "use-multilingual"
    lang: Lang = "auto"


class CortexSettings(ServiceSettings):
    """CORTEX: the LightRAG retrieval service (prefix CORTEX_)."""

    model_config = env_config("CORTEX_")

    data_dir: Path = Field(default_factory=lambda: service_dir("cortex"))
    host: str = "127.0.0.1"
    port: int = Field(default=8004, ge=1, le=65535)
    api_key: SecretStr = SecretStr("")
    embedder: str = "use-multilingual"


class TerminalSettings(ServiceSettings):
    """Neuro-Terminal: the Chainlit chat UI (prefix TERMINAL_)."""

    model_config = env_config("TERMINAL_")

    data_dir: Path = Field(default_factory=lambda: service_dir("terminal"))
    host: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535)
    synapse_url: str = "http://127.0.0.1:8000"
    auth_secret: SecretStr = SecretStr("")
