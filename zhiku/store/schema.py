"""The SQLite store's schema (version 3) as DDL.

A fresh store is created from ``SCHEMA`` in one go; an older store is brought here by the ordered
migrations in ``zhiku.store.migrations``, which reuse the pieces below for the tables they add.
Bump ``SCHEMA_VERSION`` and add a migration whenever this file changes.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3

BASE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kbs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0  -- bumped on every write: invalidates in-memory vectors
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    kb_id INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    mime TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    -- v2: e-mail attachments are documents of their own, deleted with the document they came from
    parent_id INTEGER REFERENCES documents(id) ON DELETE CASCADE,
    -- v2: a file zhiku keeps for this document (an upload under the data directory), deleted with it
    stored_file TEXT NOT NULL DEFAULT '',
    -- v2: the source file's mtime when indexed: folder sync skips hashing files whose size and mtime agree
    mtime REAL,
    UNIQUE (kb_id, path)
);
CREATE INDEX IF NOT EXISTS documents_parent ON documents(parent_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    kb_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'text',
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    locator TEXT NOT NULL DEFAULT '{}',
    -- v2: 1 once the chunk's dense vector is stored, 0 while it waits for background embedding
    has_vector INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_kb ON chunks(kb_id);
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    kb_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    vec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_kb ON vectors(kb_id);
-- Terms are produced by zhiku.text.Analyzer (jieba + stemming) and stored space-separated, so FTS5
-- only has to split on spaces, and its bm25() ranks them.
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(terms, kb_id UNINDEXED, tokenize = 'unicode61');
"""

# Chunks still waiting for a vector: a partial index keeps "how many are pending?" cheap at any size.
PENDING_INDEX = "CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(kb_id, id) WHERE has_vector = 0"

TABLES = """
CREATE TABLE IF NOT EXISTS tables (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    kb_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    name TEXT NOT NULL,
    columns TEXT NOT NULL,  -- JSON list: the header row
    rows TEXT NOT NULL,     -- JSON list of lists: the body rows
    locator TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS tables_doc ON tables(doc_id);
CREATE INDEX IF NOT EXISTS tables_kb ON tables(kb_id);
"""

JOBS = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kb_id INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('add', 'sync', 'delete')),
    key TEXT NOT NULL,                     -- the document key (or the folder, for sync)
    source TEXT NOT NULL DEFAULT '',       -- the file to read (a path, or a kept upload)
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',       -- why it failed (or warnings of a job that succeeded)
    result TEXT NOT NULL DEFAULT '',       -- added | updated | unchanged | removed | absent | sync summary
    chunks INTEGER NOT NULL DEFAULT 0,
    doc_id INTEGER,
    content_hash TEXT NOT NULL DEFAULT '', -- hash of the file when processed: sync skips still-failing files
    batch TEXT NOT NULL DEFAULT '',        -- jobs created together (one `zhiku add`, one upload, one sync)
    stage TEXT NOT NULL DEFAULT '',        -- what a running job is doing: parsing, storing, scanning
    progress REAL NOT NULL DEFAULT 0,      -- 0..1 within the job
    worker_pid INTEGER,                    -- the process running it (a dead pid means "resume it")
    heartbeat REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, id);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(kb_id, key);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch);
CREATE INDEX IF NOT EXISTS jobs_updated ON jobs(updated_at);
"""

# v3: the last id handed out per table. SQLite gives a new row the largest id in the table plus one, so
# deleting the newest document, job or knowledge base freed its id for the next one, and a client that
# kept it (a citation's doc_id, an upload's job_id, a retried DELETE) reached an unrelated row.
ID_SEQ = """
CREATE TABLE IF NOT EXISTS id_seq (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)
"""
#: Tables whose ids are handed out through ``new_ids`` (and never again).
ID_TABLES = ("kbs", "documents", "chunks", "tables", "jobs")

SCHEMA = ";\n".join(
    [BASE.strip().rstrip(";"), PENDING_INDEX, TABLES.strip().rstrip(";"), JOBS.strip().rstrip(";"), ID_SEQ.strip()]
)


def new_ids(db: sqlite3.Connection, table: str, count: int = 1) -> int:
    """The first of ``count`` consecutive ids for ``table`` that no row of it has ever had (inside the
    caller's write transaction). Rows written by a zhiku before schema 3 are covered too: the sequence
    never starts below the table's largest id."""
    if table not in ID_TABLES:
        raise ValueError(f"no id sequence for table {table!r}")
    top = int(db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
    row = db.execute(
        "INSERT INTO id_seq (name, seq) VALUES (?, ?)"
        " ON CONFLICT(name) DO UPDATE SET seq = max(seq, ?) + ? RETURNING seq",
        (table, top + count, top, count),
    ).fetchone()
    return int(row[0]) - count + 1


def statements(ddl: str) -> list[str]:
    """The statements of a DDL string (no statement or comment here contains a semicolon of its own)."""
    out = [s for s in ddl.split(";") if s.strip() and not _only_comments(s)]
    broken = [s for s in out if not sqlite3.complete_statement(s + ";")]
    if broken:  # a semicolon inside a comment would split a statement: fail loudly, not half-created
        raise ValueError(f"schema statement split in the middle: {broken[0][:80]!r}")
    return out


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())
