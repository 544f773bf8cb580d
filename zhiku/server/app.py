"""``zhiku serve``: a FastAPI application that is a thin layer over ``App``.

Every route calls one ``App`` method. Routes are plain ``def`` functions: FastAPI runs them in its
thread pool, and the store keeps one SQLite connection per thread. Errors are rendered as
``{"error": {"message", "type"}}``: ``NotFound`` → 404, ``AlreadyExists`` → 409, ``LLMError`` → 502,
any other ``ZhikuError`` → 400. See docs/api.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..answer import AnswerEvent
from ..app import App
from ..errors import StoreUnavailable, ZhikuError, storage_problem
from ..settings import Settings
from ..text import snippet
from ..types import Hit
from .common import INVALID_BODY, ApiError, ZhikuApp, classify, error_body, hint, primed, sse
from .jobs import job_result
from .jobs import router as jobs_router
from .openai_compat import router as openai_router
from .schemas import (
    AnswerOut,
    AskBody,
    ChunkOut,
    DocumentOut,
    ErrorResponse,
    FileResult,
    Health,
    KBCreate,
    KBOut,
    SearchBody,
    SearchResponse,
    UploadResponse,
)

_log = logging.getLogger("zhiku.server")

DESCRIPTION = """\
Grounded, cited answers over your documents (Chinese and English).

* **REST** under `/api`: knowledge bases, document upload, search with explain data, answers
  (JSON or server-sent events).
* **OpenAI-compatible** under `/v1`: every knowledge base is a model `kb:<name>`; chat completions
  carry the citations and grounding scores in an extra top-level field `zhiku`.

Errors always have the body `{"error": {"message": ..., "type": ...}}`.
"""

TAGS = [
    {"name": "system", "description": "Liveness and configuration."},
    {"name": "knowledge bases", "description": "Create, list and delete knowledge bases."},
    {"name": "documents", "description": "Upload, list and delete documents of a knowledge base."},
    {"name": "jobs", "description": "Ingestion jobs (queued, running, done, failed), progress events, folder sync."},
    {"name": "search and answers", "description": "Hybrid search with explain data; grounded, cited answers."},
    {"name": "openai", "description": "OpenAI-compatible API: point any OpenAI client at /v1."},
]

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid request."},
    404: {"model": ErrorResponse, "description": "Knowledge base or document not found."},
    **INVALID_BODY,
}

router = APIRouter(prefix="/api", responses=ERRORS)


@router.head("/health", include_in_schema=False)  # load balancers and uptime checkers probe with HEAD
@router.get("/health", tags=["system"], summary="Is the server up?", response_model=Health)
def health(zhiku: ZhikuApp) -> Health:
    """Answers as soon as the server accepts requests; does not load any model. 503 when the store's
    file is gone (deleted or replaced under the running server)."""
    zhiku.store.check_file()
    s = zhiku.settings
    return Health(version=__version__, embedder=s.embedder, llm=s.llm_configured)


@router.get("/kbs", tags=["knowledge bases"], summary="List knowledge bases", response_model=list[KBOut])
def list_kbs(zhiku: ZhikuApp) -> list[dict[str, Any]]:
    """Every knowledge base with its document and chunk counts."""
    return [asdict(kb) for kb in zhiku.list_kbs()]


@router.post(
    "/kbs",
    tags=["knowledge bases"],
    summary="Create a knowledge base",
    status_code=201,
    response_model=KBOut,
    responses={409: {"model": ErrorResponse, "description": "The name is taken."}},
)
def create_kb(body: KBCreate, zhiku: ZhikuApp) -> dict[str, Any]:
    """Create an empty knowledge base; 409 if the name is already taken."""
    return asdict(zhiku.create_kb(body.name, body.description))


@router.get("/kbs/{name}", tags=["knowledge bases"], summary="Get a knowledge base", response_model=KBOut)
def get_kb(name: str, zhiku: ZhikuApp) -> dict[str, Any]:
    """One knowledge base with its document and chunk counts."""
    return asdict(zhiku.get_kb(name))


@router.delete("/kbs/{name}", tags=["knowledge bases"], summary="Delete a knowledge base", status_code=204)
def delete_kb(name: str, zhiku: ZhikuApp) -> Response:
    """Delete the knowledge base with all its documents, chunks and vectors."""
    zhiku.delete_kb(name)
    return Response(status_code=204)


@router.get("/kbs/{name}/documents", tags=["documents"], summary="List documents", response_model=list[DocumentOut])
def list_documents(
    name: str,
    zhiku: ZhikuApp,
    limit: int | None = Query(default=None, ge=1, description="At most this many (default: all)."),
    offset: int = Query(default=0, ge=0, description="Skip this many first (ordered by path)."),
) -> list[dict[str, Any]]:
    """The knowledge base's documents (id, path, title, chunk count, hash, ...), ordered by path."""
    docs = zhiku.list_documents(name)
    return [asdict(doc) for doc in docs[offset : offset + limit if limit is not None else None]]


@router.get("/kbs/{name}/documents/{doc_id}", tags=["documents"], summary="Get a document", response_model=DocumentOut)
def get_document(name: str, doc_id: int, zhiku: ZhikuApp) -> dict[str, Any]:
    """One document, by the ``doc_id`` a citation or an upload gave."""
    return asdict(zhiku.get_document(name, doc_id))


@router.get(
    "/kbs/{name}/documents/{doc_id}/chunks",
    tags=["documents"],
    summary="A document's chunks",
    response_model=list[ChunkOut],
)
def document_chunks(name: str, doc_id: int, zhiku: ZhikuApp) -> list[dict[str, Any]]:
    """Every chunk of the document in reading order: its text as indexed and where it came from."""
    return [_chunk_out(hit) for hit in zhiku.document_chunks(name, doc_id)]


@router.get("/kbs/{name}/chunks/{chunk_id}", tags=["documents"], summary="Get a chunk", response_model=ChunkOut)
def get_chunk(name: str, chunk_id: int, zhiku: ZhikuApp) -> dict[str, Any]:
    """The chunk a citation's ``chunk_id`` names: its whole text (a citation shows a snippet) and locator."""
    return _chunk_out(zhiku.get_chunk(name, chunk_id))


def _chunk_out(hit: Hit) -> dict[str, Any]:
    return {
        "id": hit.chunk_id,
        "doc_id": hit.doc_id,
        "path": hit.path,
        "title": hit.title,
        "context": hit.context,
        "text": hit.text,
        "locator": hit.locator.to_dict(),
    }


@router.post(
    "/kbs/{name}/documents",
    tags=["documents"],
    summary="Upload and index files",
    response_model=UploadResponse,
    responses={202: {"model": UploadResponse, "description": "With wait=false: the files are queued."}},
)
def upload_documents(
    name: str,
    files: Annotated[list[UploadFile], File(description="One or more files (multipart field name: files).")],
    zhiku: ZhikuApp,
    wait: Annotated[bool, Query(description="Wait until the files are indexed (false: 202 at once).")] = True,
) -> Any:
    """Index each uploaded file under the key ``upload/<filename>``, as one job per file.

    The files are kept under the data directory until their document is deleted. By default the
    response comes once every file is keyword-searchable (dense vectors follow in the background:
    ``pending_vectors``). A file that cannot be indexed (corrupt, encrypted, empty, unsupported) does
    not fail the request: its entry has ``status: "failed"`` and a ``reason``, the other files are
    indexed, and ``ok`` is false. Uploading a file with the same name again replaces it
    (``updated``) or, if its bytes are the same, leaves it alone (``unchanged``). The response is 200
    whenever the knowledge base exists; with ``wait=false`` it is 202 with queued jobs, whose
    progress ``GET /api/jobs/events?batch=<batch>`` streams.
    """
    batch, ids = zhiku.upload(name, [(upload.filename or "", upload.file) for upload in files])
    jobs = zhiku.wait_for_jobs(ids) if wait else zhiku.store.get_jobs(ids)
    results = [FileResult(**job_result(job)) for job in jobs]
    counts = {status: sum(1 for r in results if r.status == status) for status in ("added", "updated", "unchanged")}
    failed = sum(1 for r in results if r.status == "failed")
    parts = [f"{n} {status}" for status, n in counts.items() if n] + ([f"{failed} failed"] if failed else [])
    queued = len(results) - sum(counts.values()) - failed
    if queued:
        parts.append(f"{queued} queued")
    indexed = sum(r.chunks for r in results if r.status in ("added", "updated"))
    response = UploadResponse(
        ok=failed == 0,
        summary=f"{len(results)} files: " + ", ".join(parts or ["nothing to do"]) + f"; {indexed} chunks indexed",
        files=results,
        batch=batch,
        pending_vectors=zhiku.store.pending_count(zhiku.store.kb_id(name)),
    )
    if not wait:
        return JSONResponse(response.model_dump(), status_code=202)
    return response


@router.delete("/kbs/{name}/documents/{doc_id}", tags=["documents"], summary="Delete a document", status_code=204)
def delete_document(name: str, doc_id: int, zhiku: ZhikuApp) -> Response:
    """Remove a document and its chunks; it is no longer found by search."""
    zhiku.delete_document(name, doc_id)
    return Response(status_code=204)


@router.post(
    "/kbs/{name}/search", tags=["search and answers"], summary="Search a knowledge base", response_model=SearchResponse
)
def search(name: str, body: SearchBody, zhiku: ZhikuApp) -> dict[str, Any]:
    """Ranked chunks with the explain data: each hit's rank and score in the BM25 and dense lists (and the
    reranker's, when one is configured)."""
    result = zhiku.search(
        name, body.query, mode=body.mode, top_k=body.top_k, path_glob=body.path_glob, rerank=body.rerank
    )
    pending = zhiku.store.pending_count(zhiku.store.kb_id(name))
    hits = [{**h.to_dict(), "snippet": snippet(h.text, body.query, zhiku.analyzer)} for h in result.hits]
    return {"query": body.query, "mode": result.mode, "hits": hits, "notes": result.notes, "pending_vectors": pending}


@router.post(
    "/kbs/{name}/ask",
    tags=["search and answers"],
    summary="Ask a question",
    response_model=AnswerOut,
    responses={
        200: {
            "description": "The answer as JSON or, with stream=true, as server-sent events.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        502: {"model": ErrorResponse, "description": "The language model endpoint failed."},
    },
)
def ask(name: str, body: AskBody, zhiku: ZhikuApp) -> Any:
    """A grounded answer with ``[n]`` citation markers, or an honest refusal when the evidence is weak.

    With ``"stream": true`` the response is ``text/event-stream``: ``event: delta`` events with
    ``{"text": ...}`` pieces, then one ``event: answer`` with the full answer JSON (as without
    streaming). An error after the stream started arrives as ``event: error`` with the error JSON.
    """
    history = [m.model_dump() for m in body.history]
    if not body.stream:
        return zhiku.ask(name, body.question, history=history, mode=body.mode, path_glob=body.path_glob).to_dict()
    events = primed(zhiku.ask_stream(name, body.question, history=history, mode=body.mode, path_glob=body.path_glob))
    return StreamingResponse(_ask_events(events), media_type="text/event-stream", headers=_SSE_HEADERS)


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _ask_events(events: Iterator[AnswerEvent]) -> Iterator[str]:
    try:
        for event in events:
            if event.kind == "delta":
                yield sse({"text": event.text}, "delta")
            elif event.answer is not None:
                yield sse(event.answer.to_dict(), "answer")
    except ZhikuError as exc:
        _, type_, _ = classify(exc)
        yield sse(error_body(hint(exc), type_), "error")


# -- application ------------------------------------------------------------------------------------


def create_app(app: App, *, background: bool = True) -> FastAPI:
    """The FastAPI application serving ``app``: REST under ``/api``, OpenAI-compatible under ``/v1``.

    With ``background`` (the default) a thread runs queued ingestion jobs and embeds pending chunks
    while the server is up (started and stopped by the application's lifespan).
    """

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        if background:
            app.start_background()
        try:
            yield
        finally:
            if background:
                app.stop_background()

    # The API docs pages (/docs, /redoc) load Swagger UI and ReDoc from files shipped in the package
    # (fastapi-offline), not from a CDN: zhiku runs where there is no internet, and the page was blank.
    api = FastAPIOffline(
        lifespan=lifespan,
        title="zhiku",
        summary="Self-hosted knowledge assistant: grounded, cited answers over your documents.",
        description=DESCRIPTION,
        version=__version__,
        openapi_tags=TAGS,
    )
    api.state.zhiku = app

    @api.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        # ``zhiku serve`` prints the bare URL: a browser opening it lands on the API docs, not a 404.
        return RedirectResponse("/docs")

    api.include_router(router)
    api.include_router(jobs_router)
    api.include_router(openai_router)
    _install_error_handlers(api)
    api.add_middleware(ErrorBody, settings=app.settings)
    return api


class ErrorBody:
    """Any unexpected failure before a response started is still the documented error body, never a
    plain-text 500: a full disk, a read-only data directory or a damaged store says so (503
    ``store_unavailable``), anything else is a bug (500 ``internal_error``, with its traceback in the
    server log). Pure ASGI: the exception is answered here, not re-raised into the server."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            _log.error("unexpected failure on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            openai = str(scope.get("path", "")).startswith("/v1/")
            problem = storage_problem(exc, self.settings.home, self.settings.database_path)
            if problem is not None:
                status, type_, code = classify(StoreUnavailable(problem), openai=openai)
                body = error_body(problem, type_, code)
            else:
                message = f"internal error ({type(exc).__name__}: {exc}); the server log has the details"
                body, status = error_body(message, "api_error" if openai else "internal_error"), 500
            await JSONResponse(body, status_code=status)(scope, receive, send)


def _is_openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ApiError)
    def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.type, exc.code), status_code=exc.status)

    @api.exception_handler(ZhikuError)
    def zhiku_error(request: Request, exc: ZhikuError) -> JSONResponse:
        status, type_, code = classify(exc, openai=_is_openai(request))
        return JSONResponse(error_body(hint(exc), type_, code), status_code=status)

    @api.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        if _is_openai(request):
            # OpenAI answers an invalid request with 400 and names the parameter: the SDK raises
            # BadRequestError for every bad request, not UnprocessableEntityError for some.
            body = error_body(f"invalid request: {problems}", "invalid_request_error")
            first = exc.errors()[0].get("loc", ()) if exc.errors() else ()
            body["error"]["param"] = ".".join(str(p) for p in first if p != "body") or None
            return JSONResponse(body, status_code=400)
        body = error_body(f"invalid request: {problems} (see /docs for the expected body)", "invalid_request")
        return JSONResponse(body, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        openai = _is_openai(request)
        message, code = str(exc.detail), None
        type_ = "invalid_request_error" if openai else "invalid_request"
        if exc.status_code == 404:
            type_, code = ("invalid_request_error", "not_found") if openai else ("not_found", None)
            if message == "Not Found":
                message = f"no route {request.method} {request.url.path} (see /docs for the API)"
        elif exc.status_code == 405:
            allowed = next((v for k, v in (exc.headers or {}).items() if k.lower() == "allow"), "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed or 'another method'}"
        return JSONResponse(error_body(message, type_, code), status_code=exc.status_code, headers=exc.headers)


def serve(app: App, host: str, port: int) -> None:
    """Run the server until interrupted (``zhiku serve``)."""
    import uvicorn

    # Load the store, analyser and model before the first request: lazy loading from several
    # request threads at once would load them more than once.
    app.warm_up()
    uvicorn.run(create_app(app), host=host, port=port)
