"""The one ``Settings`` object. Built once at the edge (CLI, app factory) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration from ``MSCQA_*`` environment variables and an optional ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="MSCQA_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index.")
    index_dir: Path = Field(Path("index"), description="Folder holding index snapshots.")
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
    torch_threads: int = Field(
        1, ge=1, le=64, description="Threads torch may use for query encoding."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    max_history_turns: int = Field(50, ge=0, description="Most history turns accepted by /ask.")
    cache_size: int = Field(1024, ge=0, description="Answers kept in the per-snapshot LRU cache.")
    keep_snapshots: int = Field(3, ge=1, description="Index snapshots kept for rollback.")
    log_level: str = Field("INFO", description="Log level for the CLI and server.")
    web_dir: Path = Field(
        Path(__file__).resolve().parents[2] / "web",
        description="Folder with the chat page's templates/ and static/.",
    )
    reload_interval: float = Field(
        1.0, ge=0.1, le=60, description="Seconds between checks for a newer index snapshot."
    )

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        levels = {"DEBUG", "INFO", "WARNING", "ERROR"}
        if value.upper() not in levels:
            raise ValueError(f"MSCQA_LOG_LEVEL must be one of {sorted(levels)}, got {value!r}")
        return value.upper()
