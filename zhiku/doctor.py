"""``zhiku doctor``: is the store consistent? And, with ``--repair``, make it so where possible.

Checked: the schema version, SQLite's own structural check, orphans (chunks without a document,
keyword entries or vectors without a chunk, tables without a document, attachments without their
parent, jobs without a knowledge base), rows filed under the wrong knowledge base, chunks missing
from the keyword index, chunks without a vector, per-knowledge-base counts that disagree, mixed
vector sizes, failed and stale jobs, kept upload files nothing refers to and kept files that are
missing, and documents indexed by another pipeline (an older zhiku, other chunk settings: the next
``add`` or ``sync`` of their files parses them again).

Repairs: orphans deleted, misfiled rows re-filed, vector flags recomputed, missing keyword entries
rebuilt with the analyser, missing vectors embedded, stale jobs re-queued, unreferenced kept files
deleted. Failed jobs are reported, not retried (``zhiku jobs retry --failed``): their files may still
be broken.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .jobs import pid_alive
from .store.checks import CHECKS
from .store.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from .app import App

Severity = Literal["error", "warning"]
# A kept file younger than this may belong to an upload whose job is being queued right now.
FRESH_FILE_S = 600.0


@dataclass
class Finding:
    """One kind of problem: how many, what it means, whether ``--repair`` fixed it."""

    name: str
    count: int
    description: str
    severity: Severity = "error"
    repairable: bool = True
    repaired: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return max(0, self.count - self.repaired)


@dataclass
class DoctorReport:
    schema_version: int
    expected_schema_version: int
    integrity: str
    findings: list[Finding]
    counts: dict[str, dict[str, int]]
    jobs: dict[str, int]
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """No error left (warnings such as failed jobs or vectors still being filled do not count)."""
        return (
            self.schema_version == self.expected_schema_version
            and self.integrity == "ok"
            and not any(f.remaining and f.severity == "error" for f in self.findings)
        )

    @property
    def clean(self) -> bool:
        """Nothing at all to report."""
        return self.ok and not any(f.remaining for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["clean"] = self.clean
        return d


_STORE_CHECKS_WITHOUT_SQL_REPAIR = {"chunks_without_keyword_entry", "chunks_without_vector"}
_WARNINGS = {"chunks_without_vector"}


def diagnose(app: App, kb: str | None = None, *, repair: bool = False) -> DoctorReport:
    """Check the store (one knowledge base, or all) and, with ``repair``, fix what can be fixed."""
    store = app.store
    kb_id = store.kb_id(kb) if kb is not None else None
    findings: list[Finding] = []
    for check in CHECKS:
        # Counted just before its repair: an earlier repair (a chunk re-filed under its document's
        # knowledge base) can turn up work for a later check (that chunk's keyword entry).
        count = len(store.check_ids(check.name, kb_id))
        finding = Finding(
            check.name,
            count,
            check.description,
            "warning" if check.name in _WARNINGS else "error",
            examples=[str(i) for i in store.check_ids(check.name, kb_id, limit=5)] if count else [],
        )
        findings.append(finding)
        if repair and count:
            finding.repaired = _repair(app, check.name, kb_id)
    findings.append(_stale_jobs(app, kb_id, repair))
    findings.append(_failed_jobs(app, kb_id))
    findings += _kept_files(app, kb_id, repair)
    findings.append(_other_pipeline(app, kb_id))
    counts = {}
    for kb_row in store.list_kbs():
        if kb_id is None or kb_row.id == kb_id:
            counts[kb_row.name] = store.counts(kb_row.id)
    disagree = [
        name
        for name, c in counts.items()
        if c["chunks"] != c["keyword_entries"] or c["chunks"] != c["vectors"] + c["pending_vectors"]
    ]
    findings.append(
        Finding(
            "counts_disagree",
            len(disagree),
            "knowledge bases whose chunks, keyword entries and vectors (+ pending) do not add up",
            repairable=False,
            examples=disagree[:5],
        )
    )
    for name in counts:
        dims = store.vector_dims(store.kb_id(name))
        if len(dims) > 1:
            findings.append(
                Finding(
                    "mixed_vector_sizes",
                    sum(dims.values()),
                    f"{name}: vectors of sizes {sorted(dims)} (embedder changed): re-index with the current one",
                    repairable=False,
                    examples=[name],
                )
            )
    return DoctorReport(
        store.schema_version,
        SCHEMA_VERSION,
        store.quick_check(),
        findings,
        counts,
        store.job_counts(kb_id=kb_id),
        repaired=repair,
    )


def _repair(app: App, name: str, kb_id: int | None) -> int:
    store = app.store
    if name not in _STORE_CHECKS_WITHOUT_SQL_REPAIR:
        return store.repair_check(name, kb_id)
    if name == "chunks_without_keyword_entry":
        fixed = 0
        ids = store.check_ids(name, kb_id)
        for start in range(0, len(ids), 500):
            texts = store.chunk_index_texts(ids[start : start + 500])
            fixed += store.put_terms([(cid, app.analyzer.terms(text)) for cid, text in texts])
        return fixed
    # chunks_without_vector: embed them now (cached vectors cost nothing)
    before = len(store.check_ids(name, kb_id))
    app.embed_pending(kb=store.kb_name(kb_id) if kb_id is not None else None)
    return before - len(store.check_ids(name, kb_id))


def _stale_jobs(app: App, kb_id: int | None, repair: bool) -> Finding:
    """Running jobs whose process is gone: a crashed runner's work, resumed by any runner."""
    running = app.store.list_jobs(kb_id=kb_id, status="running", limit=100_000)
    stale = [j for j in running if j.worker_pid is None or not pid_alive(j.worker_pid)]
    finding = Finding(
        "stale_running_jobs",
        len(stale),
        "jobs marked running by a process that is gone (the next zhiku add / jobs run / serve resumes them)",
        "warning",
        examples=[f"{j.id}: {j.key}" for j in stale[:5]],
    )
    if repair and stale:
        recovered = app.store.recover_jobs(pid_alive, app.settings.job_stale_s)
        finding.repaired = len([j for j in stale if j.id in recovered])
    return finding


def _other_pipeline(app: App, kb_id: int | None) -> Finding:
    """Documents (not attachments) indexed by another pipeline than the current one."""
    stale = [
        f"{kb_row.name}: {key}"
        for kb_row in app.store.list_kbs()
        if kb_id is None or kb_row.id == kb_id
        for key, (_, _, _, pipeline) in app.store.file_states(kb_row.id).items()
        if pipeline != app.pipeline
    ]
    return Finding(
        "documents_from_another_pipeline",
        len(stale),
        f"documents indexed by another zhiku version, chunk size or synonyms file (now {app.pipeline}): `zhiku add` or "
        "`zhiku sync` of their files parses them again",
        "warning",
        repairable=False,
        examples=stale[:5],
    )


def _failed_jobs(app: App, kb_id: int | None) -> Finding:
    failed = app.store.list_jobs(kb_id=kb_id, status="failed", limit=100_000)
    return Finding(
        "failed_jobs",
        len(failed),
        "jobs that failed (see zhiku jobs --status failed; retry with zhiku jobs retry --failed)",
        "warning",
        repairable=False,
        examples=[f"{j.id}: {j.reason}" for j in failed[:5]],
    )


def _kept_files(app: App, kb_id: int | None, repair: bool) -> list[Finding]:
    """Upload copies under the data directory: unreferenced ones (a crash between a commit and the
    file's deletion) and referenced ones that are missing."""
    store = app.store
    root = store.kb_files_dir(kb_id) if kb_id is not None else store.kb_files_dir(0).parent
    referenced = {str(Path(p).resolve()) for p in store.kept_files()}
    now = time.time()
    orphans: list[Path] = []
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file() and str(path.resolve()) not in referenced and now - path.stat().st_mtime > FRESH_FILE_S:
                orphans.append(path)
    orphan = Finding(
        "unreferenced_kept_files",
        len(orphans),
        "uploaded files kept under the data directory that no document or job refers to",
        examples=[str(p) for p in orphans[:5]],
    )
    if repair:
        orphan.repaired = sum(1 for p in orphans if store.remove_kept_file(p))
    missing = [p for p in referenced if (kb_id is None or Path(p).is_relative_to(root)) and not Path(p).exists()]
    return [
        orphan,
        Finding(
            "missing_kept_files",
            len(missing),
            "kept upload files that are gone (their documents stay searchable; a retry cannot re-read them)",
            "warning",
            repairable=False,
            examples=missing[:5],
        ),
    ]
