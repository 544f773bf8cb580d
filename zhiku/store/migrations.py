"""Schema migrations of the SQLite store: ordered functions, run in one transaction after a backup.

Opening a store written by an older zhiku:

1. copies the whole database to ``<file>.v<old>.bak`` with SQLite's online backup API (a consistent
   copy even while another process has the file open);
2. runs every migration from the file's version up to ``SCHEMA_VERSION`` inside one ``BEGIN
   IMMEDIATE`` transaction and records the new version in the same transaction, so a crash or an
   error leaves the file exactly as it was (the backup is a second guard);
3. refuses a file written by a *newer* zhiku, with a message saying so, and never touches it.

Each migration is a function ``(connection) -> None`` registered under the version it upgrades from.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import ZhikuError
from . import schema

Migration = Callable[[sqlite3.Connection], None]


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """Jobs, structured tables, attachments (parent documents), kept uploads, mtimes and the
    "chunk waits for its vector" flag."""
    db.execute("ALTER TABLE documents ADD COLUMN parent_id INTEGER REFERENCES documents(id) ON DELETE CASCADE")
    db.execute("ALTER TABLE documents ADD COLUMN stored_file TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE documents ADD COLUMN mtime REAL")
    db.execute("CREATE INDEX IF NOT EXISTS documents_parent ON documents(parent_id)")
    db.execute("ALTER TABLE chunks ADD COLUMN has_vector INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE chunks SET has_vector = 1 WHERE id IN (SELECT chunk_id FROM vectors)")
    db.execute(schema.PENDING_INDEX)
    for statement in schema.statements(schema.TABLES) + schema.statements(schema.JOBS):
        db.execute(statement)


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Ids are never handed out twice (``schema.new_ids``): the sequence starts at each table's largest id."""
    for statement in schema.statements(schema.ID_SEQ):
        db.execute(statement)


#: version upgraded from -> the function that upgrades it by one.
MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2, 2: _v2_to_v3}


def read_version(db: sqlite3.Connection) -> int | None:
    """The schema version recorded in the file, or None for an empty (new) database."""
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def refuse_newer(path: Path, version: int) -> None:
    if version > schema.SCHEMA_VERSION:
        raise ZhikuError(
            f"{path} was written by a newer zhiku (schema {version} > {schema.SCHEMA_VERSION}); upgrade zhiku "
            "to open it (the file was not changed)"
        )


def backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.v{version}.bak")


def backup(db: sqlite3.Connection, target: Path) -> Path:
    """A consistent copy of the open database at ``target`` (sqlite3 backup API)."""
    if target.exists():  # an earlier attempt's copy: the file still has that version, so keep the first one
        return target
    partial = target.with_name(target.name + ".partial")
    out = sqlite3.connect(str(partial))
    try:
        db.backup(out)
    finally:
        out.close()
    partial.replace(target)  # a half-written backup never looks like a finished one
    return target


def migrate(
    db: sqlite3.Connection,
    path: Path,
    migrations: dict[int, Migration] | None = None,
    target: int = schema.SCHEMA_VERSION,
) -> Path | None:
    """Bring the store at ``path`` (open as ``db``, autocommit mode) to ``target``.

    Returns the backup's path when a migration ran, None when the file was already current.
    Raises ``ZhikuError`` for a newer file or a missing migration step; on any error the file is
    left unchanged.
    """
    steps = MIGRATIONS if migrations is None else migrations
    version = read_version(db)
    if version is None or version == target:
        return None
    refuse_newer(path, version)
    missing = [v for v in range(version, target) if v not in steps]
    if missing:
        raise ZhikuError(f"{path}: no migration from schema {missing[0]}; this zhiku cannot open the file")
    saved = backup(db, backup_path(path, version)) if str(path) != ":memory:" else None
    db.execute("BEGIN IMMEDIATE")
    try:
        current = read_version(db)  # another process may have migrated while we copied
        if current is not None and current < target:
            for v in range(current, target):
                steps[v](db)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))
    except BaseException as exc:
        db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise ZhikuError(
                f"{path}: migrating the store from schema {version} to {target} failed ({exc}); the file is "
                f"unchanged and a copy is at {saved}"
            ) from exc
        raise
    db.execute("COMMIT")
    return saved
