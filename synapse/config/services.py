"""The settings model of each service, read from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from synapse.config.base import ServiceSettings, env_config, service_dir
from synapse.lang import LangChoice


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
    #: Comma-separated keys accepted on every route but /health (bearer or X-API-Key); empty: no keys.
    api_keys: SecretStr = SecretStr("")
    cortex_url: str = ""
    cortex_api_key: SecretStr = SecretStr("")
    embedder: str = "use-multilingual"
    lang: LangChoice = "auto"
    # Generation: the primary backend, and those tried (in order) when it is down; empty: answer 503.
    backend: Literal["llamacpp", "ollama"] = "llamacpp"
    fallback: str = ""
    triz_model: str = "triz-td010v2-q4km"
    base_model: str = "qwen2.5:14b-instruct-q4_k_m"
    gguf: Path | None = None
    # The embedded backend: tokens of context per sequence, sequences decoded at once (each takes n_ctx
    # KV cells), CPU threads (0: half the cores a token, all for prompts and batches) and layers offloaded to
    # a GPU build (-1: all, 0: none).
    n_ctx: int = Field(default=4096, ge=512, le=131072)
    parallel: int = Field(default=4, ge=1, le=64)
    # llama.cpp contexts over the one base, one per LoRA in use (each holds its own n_ctx * parallel KV cells);
    # past that many adapters at once a context is shared and switches adapters between decode steps.
    adapter_contexts: int = Field(default=4, ge=1, le=16)
    n_threads: int = Field(default=0, ge=0)
    gpu_layers: int = Field(default=-1, ge=-1)
    # The connector: retrieval, routing, memory.
    rag_mode: Literal["off", "naive", "local", "global", "hybrid", "mix"] = "mix"
    top_k: int = Field(default=8, ge=1, le=50)
    retrieval_timeout_s: float = Field(default=15.0, gt=0)
    routing: bool = False
    # Measured with use-multilingual: TRIZ questions score 0.3-0.55, unrelated ones 0.08-0.14.
    routing_threshold: float = Field(default=0.25, ge=-1.0, le=1.0)
    memory: bool = False
    # A TOML file of agent profiles ([profiles.NAME] tables: adapter, prompt, collections, RAG mode); unset:
    # only the built-in triz-agent and triz-agent-base.
    profiles: Path | None = None
    # Protection of the HTTP API.
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_messages: int = Field(default=200, ge=1)
    max_tokens_limit: int = Field(default=4096, ge=1)
    default_max_tokens: int = Field(default=1024, ge=1)
    # Generations at once (retrieval included) before requests queue; unset: SYNAPSE_PARALLEL.
    max_concurrent: int | None = Field(default=None, ge=1)
    queue_size: int = Field(default=32, ge=0)
    # Embedding routes: texts per request (OpenAI allows 2048; LangChain sends 1000) and characters per text
    # (about OpenAI's 8,192 tokens; the offline embedder takes some 1.4 s for 32,000 characters on 2 cores).
    max_embed_inputs: int = Field(default=2048, ge=1)
    max_embed_chars: int = Field(default=32_000, ge=1)
    # Worker processes of `synapse serve` (each loads its own embedded model; >1 makes sense with Ollama).
    workers: int = Field(default=1, ge=1, le=64)
    # The TRIZ tools and CORTEX as MCP tools over streamable HTTP at /mcp (behind the API keys);
    # `synapse mcp` serves them over stdio either way.
    mcp_http: bool = True

    @field_validator("fallback")
    @classmethod
    def _known_backends(cls, value: str) -> str:
        unknown = [p.strip() for p in value.split(",") if p.strip() and p.strip() not in ("llamacpp", "ollama")]
        if unknown:
            raise ValueError(f"unknown backend(s) {', '.join(unknown)}; use llamacpp and/or ollama")
        return value

    @field_validator("profiles", mode="before")
    @classmethod
    def _no_profiles_when_empty(cls, value: object) -> object:
        # An empty SYNAPSE_PROFILES= means "not set", not the current folder.
        return None if value == "" else value

    def concurrency(self) -> int:
        """Generations admitted at once: SYNAPSE_MAX_CONCURRENT, else as many as the embedded backend decodes."""
        return self.max_concurrent if self.max_concurrent is not None else self.parallel

    def fallback_order(self) -> list[str]:
        """The backends to try, primary first, each once."""
        order: list[str] = [self.backend]
        for name in (part.strip() for part in self.fallback.split(",")):
            if name and name not in order:
                order.append(name)
        return order

    def accepted_keys(self) -> set[str]:
        """Every API key that the HTTP API accepts (empty set: no key needed)."""
        raw = [self.api_key.get_secret_value(), *self.api_keys.get_secret_value().split(",")]
        return {key.strip() for key in raw if key.strip()}


class CortexSettings(ServiceSettings):
    """CORTEX: the LightRAG retrieval service (prefix CORTEX_)."""

    model_config = env_config("CORTEX_")

    data_dir: Path = Field(default_factory=lambda: service_dir("cortex"))
    host: str = "127.0.0.1"
    port: int = Field(default=8004, ge=1, le=65535)
    api_key: SecretStr = SecretStr("")
    # "use-multilingual" (offline, default) or "ollama:<model>", e.g. "ollama:nomic-embed-text".
    embedder: str = "use-multilingual"
    # An Ollama chat model for LightRAG's entity extraction; empty: documents are chunked and embedded only.
    llm_model: str = ""
    max_upload_mb: float = Field(default=50.0, gt=0)
    # Characters of text one upload may hold (compressed .docx/.pdf can unpack to far more than their size):
    # 5 million is a 2,500-page book, about 2,000 chunks of 600 tokens and some 10-20 MB in memory while
    # it is parsed; a document past it gets a 413 naming this setting.
    max_text_chars: int = Field(default=5_000_000, ge=1000)
    # Serve /docs, /redoc and /openapi.json without the API key (with CORTEX_API_KEY set they need it).
    open_docs: bool = False
    chunk_tokens: int = Field(default=600, ge=50, le=8000)
    # Minimum cosine similarity for a vector hit (LightRAG's default 0.2 drops cross-language matches).
    cosine_threshold: float = Field(default=0.1, ge=-1.0, le=1.0)
    # Documents processed at once when there is no LLM (chunk + embed only); their texts embed together.
    parallel_documents: int = Field(default=32, ge=1, le=256)
    # Embed documents with the offline embedder in a child process, beside the server's event loop
    # (on 2 cores a 2,000-document ingest took 37 s in a thread); queries are embedded in the server.
    embed_process: bool = True
    # "file": LightRAG storages under data_dir; "postgres": LightRAG's PostgreSQL storages (KV, pgvector
    # vectors, document status) at postgres_url, the graph where graph_storage says.
    storage: Literal["file", "postgres"] = "file"
    # postgresql://user:password@host:5432/database
    postgres_url: SecretStr = SecretStr("")
    # The CORTEX store's name in that database (several stores can share one database).
    postgres_workspace: str = Field(default="cortex", pattern=r"^[A-Za-z0-9_]{1,48}$")
    # Where the knowledge graph goes: empty (PostgreSQL/AGE when the server has AGE, else files in data_dir),
    # "file", "age" (PostgreSQL with Apache AGE at postgres_url), or neo4j://user:password@host:7687[/database].
    graph_url: SecretStr = SecretStr("")
    # Worker processes of `synapse cortex serve`.
    workers: int = Field(default=1, ge=1, le=64)
    # LightRAG storage classes by name: CORTEX's own (default: SQLite+numpy vectors, coalesced JSON/GraphML
    # flushes), LightRAG's file storages (JsonKVStorage, NanoVectorDBStorage, NetworkXStorage,
    # JsonDocStatusStorage) or its servers' (PGKVStorage, PGVectorStorage, Neo4JStorage, QdrantVectorDBStorage...).
    kv_storage: str = "CortexKVStorage"
    vector_storage: str = "CortexVectorStorage"
    graph_storage: str = "CortexGraphStorage"
    doc_status_storage: str = "CortexDocStatusStorage"


class TerminalSettings(ServiceSettings):
    """Neuro-Terminal: the Chainlit chat UI (prefix TERMINAL_)."""

    model_config = env_config("TERMINAL_")

    data_dir: Path = Field(default_factory=lambda: service_dir("terminal"))
    host: str = "127.0.0.1"
    port: int = Field(default=8501, ge=1, le=65535)
    synapse_url: str = "http://127.0.0.1:8000"
    synapse_api_key: SecretStr = SecretStr("")
    # Where attached files go: CORTEX's document upload (multipart), polled at <documents_url>/<id>.
    documents_url: str = "http://127.0.0.1:8004/documents"
    documents_api_key: SecretStr = SecretStr("")
    # Signs the login cookies; empty: generated once and kept in <data_dir>/auth_secret.
    auth_secret: SecretStr = SecretStr("")
    # The login; an empty password is generated once and kept in <data_dir>/password.
    username: str = Field(default="engineer", min_length=1)
    password: SecretStr = SecretStr("")
    # Chat history: SQLAlchemy async URL; empty: SQLite at <data_dir>/history.sqlite3.
    database_url: SecretStr = SecretStr("")
    request_timeout_s: float = Field(default=300.0, gt=0)
    ingest_timeout_s: float = Field(default=600.0, gt=0)
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    # Origins (scheme://host[:port], comma-separated) allowed besides the terminal's own URL, e.g. the public
    # URL of a reverse proxy in front of it: they may call the terminal from the browser with the login cookie.
    allowed_origins: str = ""

    @field_validator("synapse_url", "documents_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL; write it like http://127.0.0.1:8000")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        return ",".join(_origin(part) for part in value.split(",") if part.strip())

    def extra_origins(self) -> list[str]:
        """TERMINAL_ALLOWED_ORIGINS as a list, each normalized to scheme://host[:port]."""
        return [part for part in self.allowed_origins.split(",") if part]


class ExportSettings(ServiceSettings):
    """`synapse export` (prefix SYNAPSE_EXPORT_)."""

    model_config = env_config("SYNAPSE_EXPORT_")

    # A TOML file of export profiles; unset: <data dir>/export_profiles.toml when that file exists.
    profiles: Path | None = None

    @field_validator("profiles", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        # An empty SYNAPSE_EXPORT_PROFILES= means "not set", not the current folder.
        return None if value == "" else value


def _origin(value: str) -> str:
    # Browsers send the Origin header as scheme://host[:port], lower case, without a path or a default port.
    parts = urlsplit(value.strip().rstrip("/").lower())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"{value.strip()!r} is not an origin; write it like https://chat.example.com:8443")
    default = {"http": 80, "https": 443}[parts.scheme]
    port = "" if parts.port in (None, default) else f":{parts.port}"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{port}"
