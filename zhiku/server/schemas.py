"""Request and response bodies of the HTTP API (pydantic models, so they appear in ``/openapi.json``).

The models stay at module level: FastAPI resolves the (postponed) annotations of the route functions
against this module's and the route module's globals at start-up.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SearchMode = Literal["hybrid", "bm25", "dense"]


#: Request bodies of the REST API refuse fields they do not know: a typo ("questoin", "top-k") is a
#: 422 naming the field, not a default silently used. (OpenAI requests allow extras: SDKs send many.)
_STRICT = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong and what to do about it.")
    type: str = Field(description="Machine-readable kind: not_found, already_exists, invalid_request, llm_error, ...")
    code: str | None = Field(default=None, description="A finer code where one exists (e.g. model_not_found).")


class ErrorResponse(BaseModel):
    """Every error, on every route: ``{"error": {"message", "type"}}`` (the OpenAI error shape)."""

    error: ErrorDetail


# -- REST: system and knowledge bases ---------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    embedder: str = Field(description="The configured embedding model.")
    llm: bool = Field(description="True when a language model is configured; false means extractive answers.")


class KBCreate(BaseModel):
    model_config = _STRICT
    # Checked by zhiku (``App.check_kb_name``: blank, over 200 characters, slashes ...): a 400 naming the
    # rule, as documented, not a schema 422 for some of them.
    name: str = Field(description="Unique name of the knowledge base (at most 200 characters, no slash).")
    description: str = Field(default="", max_length=2000, description="Free text shown in listings.")


class KBOut(BaseModel):
    id: int
    name: str
    description: str = ""
    created_at: float = Field(default=0.0, description="Unix time.")
    documents: int = Field(default=0, description="Number of documents.")
    chunks: int = Field(default=0, description="Number of indexed chunks.")


class DocumentOut(BaseModel):
    id: int
    kb_id: int
    path: str = Field(description="The document's key: its absolute path, or upload/<filename> for uploads.")
    title: str
    content_hash: str
    mime: str = ""
    size: int = 0
    chunks: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)


class ChunkOut(BaseModel):
    """A chunk as it is indexed: what a citation's ``chunk_id`` names."""

    id: int
    doc_id: int
    path: str
    title: str = ""
    context: str = Field(default="", description="The title and headings it is indexed under.")
    text: str = Field(description="The chunk's whole text (parsed: Markdown tables, no formatting).")
    locator: dict[str, Any] = Field(
        default_factory=dict,
        description="Where it came from: page, heading_path, sheet, cell_range, slide, time_start/time_end, "
        "speaker; char_start/char_end are offsets into the document's parsed text, not the file.",
    )


class FileResult(BaseModel):
    path: str = Field(description="Key the file is stored under: upload/<filename>.")
    status: Literal["added", "updated", "unchanged", "failed", "queued", "running"] = Field(
        description="What happened; queued/running only with wait=false."
    )
    chunks: int = 0
    reason: str = Field(
        default="", description="Why the file failed; for an indexed file, its warnings (empty if none)."
    )
    doc_id: int | None = None
    job_id: int | None = Field(default=None, description="The ingestion job (GET /api/jobs/{job_id}).")


class UploadResponse(BaseModel):
    ok: bool = Field(description="False when at least one file failed; the others are indexed regardless.")
    summary: str
    files: list[FileResult]
    batch: str = Field(default="", description="The jobs' batch: GET /api/jobs/events?batch=... streams progress.")
    pending_vectors: int = Field(
        default=0, description="Chunks of the knowledge base still waiting for dense vectors (keyword-searchable)."
    )


# -- REST: jobs and sync ----------------------------------------------------------------------------


class JobOut(BaseModel):
    """An ingestion job (``zhiku jobs``): one file to add, one document to delete, or one folder sync."""

    id: int
    kb_id: int
    kind: Literal["add", "sync", "delete"]
    key: str = Field(description="The document key (absolute path or upload/<filename>), or the synced folder.")
    source: str = Field(description="The file read (for uploads: the copy kept under the data directory).")
    status: Literal["queued", "running", "done", "failed"]
    attempts: int = Field(description="How often a runner started it (more than 1 after a crash or a retry).")
    reason: str = Field(description="Why it failed; for a done job, warnings (e.g. a skipped attachment).")
    result: str = Field(description="added, updated, unchanged, removed, absent, or a sync's summary.")
    chunks: int = 0
    doc_id: int | None = None
    content_hash: str = ""
    batch: str = ""
    stage: str = Field(default="", description="What a running job is doing: parsing, storing, scanning.")
    progress: float = Field(default=0.0, description="0-1 within the job.")
    worker_pid: int | None = None
    heartbeat: float | None = None
    created_at: float
    updated_at: float


class RetryResponse(BaseModel):
    retried: list[int] = Field(description="Ids of the jobs queued again.")


class SyncBody(BaseModel):
    model_config = _STRICT
    folder: str = Field(min_length=1, description="A folder on the server's machine.")
    dry_run: bool = Field(default=False, description="Only report what would change.")
    wait: bool = Field(default=True, description="Wait for the sync's jobs; false: 202 with the scan job's id.")


class SyncResponse(BaseModel):
    summary: str = Field(description="e.g. '2 new, 1 changed, 0 removed, 40 unchanged' or 'nothing to do (...)'.")
    dry_run: bool
    plan: dict[str, Any] | None = Field(default=None, description="With dry_run: new, changed and removed keys.")
    jobs: list[JobOut] = Field(default_factory=list)
    failed: int = 0
    embed_error: str = ""


# -- REST: search and answers -----------------------------------------------------------------------


class SearchBody(BaseModel):
    model_config = _STRICT
    query: str = Field(description="What to look for (Chinese or English); empty or blank is a 400.")
    mode: SearchMode = Field(default="hybrid", description="hybrid (BM25 + dense vectors, fused), bm25 or dense.")
    top_k: int | None = Field(default=None, ge=1, le=200, description="Number of hits (default: settings top_k).")
    path_glob: str | None = Field(default=None, description="Only documents whose path matches, e.g. '*.md'.")
    rerank: bool | None = Field(
        default=None,
        description="Rerank the top hits with the configured reranker: null = when one is configured, "
        "true = required (400 without one), false = never.",
    )


class HitOut(BaseModel):
    chunk_id: int
    doc_id: int
    score: float = Field(description="Retrieval (fused) score; with a reranker the order follows scores.rerank.")
    text: str
    snippet: str = Field(
        default="",
        description="What to show of the chunk for this query: a table's head and the rows the query names, "
        "or prose from the sentence that matches it ('…' marks cuts).",
    )
    locator: dict[str, Any] = Field(description="Where the chunk is: page, heading_path, slide, sheet, ...")
    path: str = ""
    title: str = ""
    context: str = ""
    ranks: dict[str, int] = Field(
        default_factory=dict, description="Explain data: rank in each list (bm25, dense, rerank)."
    )
    scores: dict[str, float] = Field(default_factory=dict, description="Explain data: score in each list.")


class SearchResponse(BaseModel):
    query: str
    mode: SearchMode
    hits: list[HitOut]
    notes: list[str] = Field(default_factory=list, description="Remarks from the retriever (e.g. a fallback).")
    pending_vectors: int = Field(
        default=0, description="Chunks still waiting for dense vectors: found by keyword search only until embedded."
    )


class Message(BaseModel):
    model_config = _STRICT
    role: Literal["user", "assistant"]
    content: str


class AskBody(BaseModel):
    model_config = _STRICT
    question: str = Field(description="The question (Chinese or English); empty or blank is a 400.")
    history: list[Message] = Field(default_factory=list, description="Earlier turns, oldest first.")
    mode: SearchMode = "hybrid"
    path_glob: str | None = None
    stream: bool = Field(default=False, description="True: text/event-stream with delta events, then answer.")


class AnswerOut(BaseModel):
    """``Answer.to_dict()``: the answer text carries ``[n]`` markers that refer to ``citations[n-1]``."""

    question: str
    answer: str
    mode: Literal["extractive", "llm", "refused"]
    refused: bool
    evidence: float = Field(description="How strongly the retrieved chunks match the question (0-1).")
    rerank: float | None = Field(
        default=None, description="Best reranker score among the sources; null without a reranker."
    )
    grounding: float = Field(description="Share of answer sentences supported by their citations (0-1).")
    language: str
    citations: list[dict[str, Any]]
    sentences: list[dict[str, Any]]
    usage: dict[str, int]
    truncated: bool = Field(
        default=False,
        description="The language model stopped at its token limit (ZHIKU_LLM_MAX_TOKENS): the answer may "
        "end mid-sentence (a note says so too).",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Remarks in the question's language, e.g. that an extractive answer quotes sources "
        "in the other language as written.",
    )
    related: list[dict[str, Any]] = Field(
        default_factory=list,
        description="A refused answer's nearest passages (Citation.to_dict(), numbered from 1): where zhiku "
        "looked, so the refusal can be checked. They do not answer the question. Empty unless refused.",
    )


# -- OpenAI-compatible ------------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str = Field(description="kb:<knowledge base name>")
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "zhiku"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(description="system, developer, user, assistant or tool.")
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ZhikuOptions(BaseModel):
    """Optional zhiku-specific request field (``extra_body={"zhiku": {...}}`` with the openai SDK)."""

    model_config = _STRICT

    mode: SearchMode = "hybrid"
    path_glob: str | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat request; sampling fields (temperature, max_tokens, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="kb:<name> (or the bare knowledge base name).")
    messages: list[ChatMessage] = Field(description="At least one user message (else a 400).")
    stream: bool = False
    stream_options: StreamOptions | None = None
    zhiku: ZhikuOptions | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ZhikuExtra(BaseModel):
    """The grounding data zhiku adds to OpenAI responses as the top-level field ``zhiku``."""

    citations: list[dict[str, Any]] = Field(description="Citation.to_dict() for each [n] marker, in order.")
    refused: bool
    grounding: float
    evidence: float
    rerank: float | None = Field(default=None, description="Best reranker score among the sources (null: none).")
    sentences: list[dict[str, Any]]
    mode: Literal["extractive", "llm", "refused"]
    language: str
    truncated: bool = Field(default=False, description="Cut off at the token limit (see AnswerOut.truncated).")
    notes: list[str] = Field(
        default_factory=list, description="Remarks in the question's language (see AnswerOut.notes)."
    )
    related: list[dict[str, Any]] = Field(
        default_factory=list, description="A refused answer's nearest passages (see AnswerOut.related)."
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    zhiku: ZhikuExtra
