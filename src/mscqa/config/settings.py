"""The one ``Settings`` object: its fields, each with a default and a one-line description.
What a value may look like is in ``values``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mscqa.config import values


class Settings(BaseSettings):
    """Configuration from ``MSCQA_*`` environment variables and an optional ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="MSCQA_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index.")
    index_dir: Path = Field(Path("index"), description="Folder holding index snapshots.")
    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL (with pgvector) URL, e.g. postgresql://user:pw@host/db, of a "
        "shared index all servers read; unset keeps the index in MSCQA_INDEX_DIR.",
    )
    database_pool_size: int = Field(
        8, ge=1, le=100, description="Database connections each server keeps for questions."
    )
    database_build_memory_mb: int = Field(
        4096,
        ge=64,
        le=1_048_576,
        description="Most memory (MB) a build lets PostgreSQL give pgvector's HNSW graph "
        "(maintenance_work_mem, in the build's session only); a larger graph builds far slower.",
    )
    model: str = Field(
        "",
        description="Embedding model name or path; empty means the bundled all-MiniLM-L6-v2.",
    )
    host: str = Field("127.0.0.1", description="Address `mscqa serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `mscqa serve` listens on.")
    top_k: int = Field(5, ge=1, le=20, description="Passages retrieved per question by default.")
    max_sentences: int = Field(3, ge=1, le=10, description="Most sentences in one answer.")
    min_confidence: float = Field(
        0.5, ge=0.0, le=1.0, description="Answers below this confidence abstain."
    )
    chunk_chars: int = Field(700, ge=100, le=5000, description="Target passage size in characters.")
    query_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="Threads that encode one question (torch, ONNX Runtime; OpenVINO when "
        "questions overlap, see MSCQA_QUERY_SOLO_THREADS); 1 keeps a question fast while a "
        "build or another process holds the other core.",
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Deprecated name of MSCQA_QUERY_THREADS, still read in this release (with "
        "a warning); MSCQA_QUERY_THREADS wins when both are set.",
    )
    server_build_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="Threads a rebuild started through the admin API embeds with; 1 leaves the "
        "other cores to questions.",
    )
    query_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="Query encoder: auto = the index's ONNX export if present, else torch.",
    )
    query_precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Number format of the ONNX query encoder: auto = bf16 (OpenVINO) where the "
        "CPU has native bf16, else fp32 (ONNX Runtime).",
    )
    query_solo_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads for a question the OpenVINO encoder answers while no other is in "
        "progress; questions that overlap get MSCQA_QUERY_THREADS each. 0 = every core, 1 = "
        "never more than one.",
    )
    onnx_quantize: bool = Field(
        False, description="Export the query encoder with int8 weights (faster, less exact)."
    )
    build_threads: int = Field(
        0, ge=0, le=64, description="Threads a build may use for embedding; 0 means all cores."
    )
    build_backend: Literal["auto", "openvino", "torch"] = Field(
        "auto",
        description="Passage encoder for builds: auto = OpenVINO on the index's ONNX export "
        "when it loads, else torch.",
    )
    build_precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="Number format for build embeddings: auto = bf16 where the CPU has native "
        "bf16 (AMX, AVX512-BF16), else fp32.",
    )
    build_nice: int = Field(
        10, ge=0, le=19, description="How much a build lowers its embedding thread's priority."
    )
    build_worker_idle_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Seconds the admin API's build process stays after a rebuild for the next "
        "one (warm encoder), before it exits and frees its memory; 0 = exit after each build.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_history_turns: int = Field(50, ge=0, description="Most history turns accepted by /ask.")
    cache_size: int = Field(1024, ge=0, description="Answers kept in the per-snapshot LRU cache.")
    keep_snapshots: int = Field(3, ge=1, description="Index snapshots kept for rollback.")
    log_level: str = Field("INFO", description="Log level for the CLI and server.")
    web_dir: Path = Field(
        Path(__file__).resolve().parents[3] / "web",
        description="Folder with the chat page's templates/ and static/.",
    )
    reload_interval: float = Field(
        1.0, ge=0.1, le=60, description="Seconds between checks for a newer index snapshot."
    )
    max_body_kb: int = Field(
        64,
        ge=1,
        le=10240,
        description="Largest request body in KiB, except /admin/documents uploads.",
    )
    rate_limit_per_minute: int = Field(
        120,
        ge=0,
        description="Questions per minute per client IP on /ask, /v1/chat/completions and "
        "/mcp together; 0 turns limiting off.",
    )
    rate_limit_burst: int = Field(
        30, ge=1, description="Questions a client IP may send at once before the rate applies."
    )
    max_inflight: int = Field(
        32,
        ge=0,
        description="Questions answered at once; more get 503 + Retry-After (0 = no limit).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [],  # pydantic copies mutable defaults per instance
        description="Origins (comma-separated or a JSON list) allowed to call /ask, /health, "
        "/documents and /v1 from a browser; empty turns CORS off.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for the /admin API (upload, delete, reindex); unset disables it.",
    )
    max_upload_mb: int = Field(
        25, ge=1, le=1024, description="Largest document accepted by POST /admin/documents, in MB."
    )
    api_key: SecretStr | None = Field(
        None,
        description="Bearer key required on the OpenAI-compatible /v1 API and on /mcp; unset "
        "accepts any key (or none).",
    )
    public_url: str = Field(
        "",
        description="Base URL clients reach this server at, for the links in answers given to "
        "other tools (e.g. https://mscqa.example.org); empty = http://MSCQA_HOST:MSCQA_PORT.",
    )
    body_timeout_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Seconds a client has to send a request's headers, then its body (an "
        "upload: between two pieces of it); later gets 408 and the connection is closed.",
    )
    max_header_kb: int = Field(
        32,
        ge=4,
        le=1024,
        description="Largest request head (request line and headers) in KiB; larger gets 431.",
    )
    max_client_connections: int = Field(
        64,
        ge=0,
        description="Open connections one client address may hold; more get 429 (0 = no cap). "
        "Addresses in MSCQA_FORWARDED_ALLOW_IPS are not capped.",
    )
    switch_interval_ms: float = Field(
        1.0,
        ge=0.1,
        le=100,
        description="How long a busy thread of mscqa serve keeps Python's GIL before a waiting "
        "one gets it, in ms (Python's default: 5); shorter keeps the event loop from waiting "
        "behind the question threads.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token GET /metrics requires; unset leaves /metrics open (bind to "
        "a private address then).",
    )
    max_reply_kb: int = Field(
        256,
        ge=16,
        le=65536,
        description="Largest answer reply in KiB (/ask, /v1/chat/completions streamed or not, "
        "the MCP ask and search tools); a longer one loses related passages (search: passages) "
        "from its end, then citations show only the quoted sentences.",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        [],
        description="Reverse proxies (IPs or networks, comma-separated, or *) whose "
        "X-Forwarded-For is trusted; empty = proxy headers are ignored.",
    )
    data_dir: Path = Field(
        Path("data"), description="Folder for the server's own data: the question log."
    )
    question_log: Literal["all", "unanswered", "off"] = Field(
        "unanswered",
        description="Questions kept for curators: unanswered = refused questions and rated "
        "answers, all = every question, off = none (and no feedback).",
    )
    question_log_days: int = Field(
        90, ge=1, description="Days a logged question (and its feedback) is kept."
    )

    @model_validator(mode="after")
    def _deprecated_names(self) -> Settings:
        if self.torch_threads is not None:
            warnings.warn(
                "MSCQA_TORCH_THREADS is deprecated and will be removed in the next release; "
                "set MSCQA_QUERY_THREADS instead (it sizes every question encoder, not only "
                "torch).",
                DeprecationWarning,
                stacklevel=2,
            )
            if "query_threads" not in self.model_fields_set:
                self.query_threads = self.torch_threads
        return self

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        return values.log_level(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _check_origins(cls, value: object) -> list[str]:
        return values.origins(value)

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _check_proxies(cls, value: object) -> list[str]:
        return values.proxies(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        url = None if value is None else values.database_url(value.get_secret_value())
        return None if url is None else value

    @field_validator("admin_token", "api_key", "metrics_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # empty: the admin API stays disabled, the /v1 and /mcp key unchecked
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        return values.public_url(value)
