"""Parsing fidelity: how close zhiku's parsers come to a reference Markdown rendering of each file.

The dataset is a folder with a ``MANIFEST.tsv`` (tab-separated, header row) whose columns include
``file`` (path relative to the folder), ``format``, ``language`` and ``expected_markdown`` (path of the
reference Markdown, may be empty). ``../shared/datasets/doc_parsing`` is such a folder; its references
are docling's Markdown exports. Files without a reference are parsed and reported (ok / error /
blocks / chars / seconds) but not scored. A folder without a manifest is walked: every file is
parsed, nothing is scored.

Metrics, per scored file:

* **Text token F1.** Both sides are reduced to a bag (multiset) of tokens:

  1. Markdown syntax is stripped: HTML comments (docling's ``<!-- image -->``) and tags are removed,
     ``[text](url)`` and ``![alt](url)`` keep only their text, code-fence lines, table separator rows
     (``| --- | --- |``) and ordered-list numbers (``1.``) are dropped, HTML entities are decoded.
     Every other piece of syntax (``#``, ``|``, ``*``, ``-``, ``>``, backslash escapes) is
     punctuation and disappears in step 3.
  2. The text is NFKC-normalised (full-width -> half-width) and case-folded.
  3. Tokens are every CJK ideograph on its own (Chinese has no word boundaries a reference and a
     parser would agree on) and every maximal run of letters and digits in the rest (Latin, Greek,
     Cyrillic, numbers; ``COVID-19`` is ``covid`` + ``19``). This is the analyser-free part of
     ``zhiku.text``: no stemming, no stopwords, no jieba, so the metric does not move when the
     search analyser changes. Punctuation and whitespace are not tokens.

  With ``overlap = sum(min(ours[t], expected[t]))`` over tokens ``t``: precision = overlap / |ours|,
  recall = overlap / |expected|, F1 their harmonic mean. Order is ignored (a bag), so F1 measures
  what text was extracted (lost, garbled or extra such as navigation), not reading order.

* **Table-cell F1**, for files whose reference contains Markdown tables (a header row, a
  ``| --- |`` separator row, body rows). Every cell of every table, header included, is normalised
  to its tokens (as above) joined by single spaces; cells with no tokens (empty, ``-``) are ignored;
  the cells of the whole file form a multiset compared as above. A merged cell that the reference
  repeats in every spanned position must be repeated by the parser too. Our side: the rows of each
  table block (``Block.rows``), or the Markdown tables in a block's text when it has no rows. A file
  whose reference has tables but whose parse has none scores 0.

A file that fails to parse scores 0 on every metric it is scored on (a failure is a fidelity loss).
Means are over the scored files (``text_f1_mean``: files with a reference; ``table_f1_mean``: files
whose reference has tables).
"""

from __future__ import annotations

import csv
import html
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ZhikuError
from ..parse import ParserRegistry
from ..parse.safety import ZipLimits
from ..settings import Settings
from ..tabletext import is_delimiter_row
from ..text import CJK_RE
from ..types import ParsedDocument
from .report import ProgressFactory, bar

# -- tokens ------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
# Link text may hold one level of brackets (``[[5]](#cite_note-5)``), a URL one level of parentheses.
_LINK_TEXT = r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"
_LINK_URL = r"\((?:[^()\n]|\([^()\n]*\))*\)"
_IMAGE_RE = re.compile("!" + _LINK_TEXT + _LINK_URL)
_LINK_RE = re.compile(_LINK_TEXT + _LINK_URL)
_AUTOLINK_RE = re.compile(r"<(?:https?|ftp|mailto):[^>\s]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[A-Za-z][^>]*>")
# Horizontal whitespace only: ``\s`` would let a match run over blank lines and backtrack.
_FENCE_RE = re.compile(r"^[ \t]*(```|~~~).*$", re.MULTILINE)
_ORDERED_RE = re.compile(r"^([ \t]*)\d{1,3}[.)](?=\s)", re.MULTILINE)
_CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")


def strip_markdown(text: str) -> str:
    """``text`` without the Markdown syntax that would otherwise produce tokens (see module doc)."""
    text = _COMMENT_RE.sub(" ", text)
    text = _IMAGE_RE.sub(r" \1 ", text)
    text = _LINK_RE.sub(r" \1 ", text)
    text = _AUTOLINK_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    text = _FENCE_RE.sub(" ", text)
    text = _ORDERED_RE.sub(r"\1", text)
    text = "\n".join(" " if is_delimiter_row(line) else line for line in text.splitlines())
    return html.unescape(text)


def tokens(text: str, *, markdown: bool = True) -> list[str]:
    """The evaluation tokens of ``text``: single CJK ideographs and letter/digit runs, case-folded.

    With ``markdown`` (the default) Markdown syntax is stripped first.
    """
    if markdown:
        text = strip_markdown(text)
    text = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    # Split on CJK ideographs: each is a token, the text between them is cut into words.
    pos = 0
    for m in CJK_RE.finditer(text):
        out.extend(_WORD_RE.findall(text, pos, m.start()))
        out.append(m.group())
        pos = m.end()
    out.extend(_WORD_RE.findall(text, pos))
    return out


@dataclass
class BagScore:
    """Precision, recall and F1 of one bag of items against a reference bag."""

    precision: float
    recall: float
    f1: float
    ours: int
    expected: int
    overlap: int


def bag_f1(ours: Iterable[str], expected: Iterable[str]) -> BagScore:
    """Multiset overlap F1. Two empty bags agree perfectly (1.0); one empty bag scores 0.0."""
    a, b = Counter(ours), Counter(expected)
    n_a, n_b = sum(a.values()), sum(b.values())
    overlap = sum((a & b).values())
    if n_a == 0 and n_b == 0:
        return BagScore(1.0, 1.0, 1.0, 0, 0, 0)
    precision = overlap / n_a if n_a else 0.0
    recall = overlap / n_b if n_b else 0.0
    f1 = 2 * precision * recall / (precision + recall) if overlap else 0.0
    return BagScore(precision, recall, f1, n_a, n_b, overlap)


def token_f1(ours: str, expected: str) -> float:
    """Text token F1 of ``ours`` against ``expected`` (both Markdown or plain text)."""
    return bag_f1(tokens(ours), tokens(expected)).f1


# -- tables ------------------------------------------------------------------------------------------


def markdown_tables(text: str) -> list[list[list[str]]]:
    """The Markdown (GFM pipe) tables in ``text``: each a list of rows of raw cell strings.

    A table is a line with a ``|``, then a separator row, then the following lines that contain ``|``.
    The separator row itself is not returned.
    """
    lines = text.splitlines()
    tables: list[list[list[str]]] = []
    i = 0
    while i + 1 < len(lines):
        head, sep = lines[i], lines[i + 1]
        if "|" in head and is_delimiter_row(sep):
            rows = [_split_row(head)]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_split_row(lines[i]))
                i += 1
            tables.append(rows)
        else:
            i += 1
    return tables


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.replace("\\|", "|").strip() for cell in _CELL_SPLIT_RE.split(line)]


def normalize_cell(cell: str) -> str:
    """A cell's comparison key: its evaluation tokens joined by spaces ("" for an empty cell)."""
    return " ".join(tokens(cell))


def cells_of(rows_list: Iterable[list[list[str]]]) -> list[str]:
    """The normalised, non-empty cells of some tables, as one list (a multiset)."""
    out: list[str] = []
    for rows in rows_list:
        for row in rows:
            out.extend(key for key in (normalize_cell(c) for c in row) if key)
    return out


def document_tables(doc: ParsedDocument) -> list[list[list[str]]]:
    """The tables a parse produced: each table block's ``rows``, else the Markdown tables in its text.

    Non-table blocks are searched for Markdown tables too (a parser may keep a table in a paragraph).
    """
    tables: list[list[list[str]]] = []
    for block in doc.blocks:
        if block.kind == "table" and block.rows:
            tables.append(block.rows)
        else:
            tables.extend(markdown_tables(block.text))
    return tables


# -- the dataset -------------------------------------------------------------------------------------


@dataclass
class ManifestEntry:
    """One file to evaluate."""

    file: str
    format: str = ""
    language: str = ""
    expected: str = ""


def load_manifest(folder: Path) -> list[ManifestEntry]:
    """The entries of ``folder/MANIFEST.tsv``; without a manifest, every file under ``folder``."""
    manifest = folder / "MANIFEST.tsv"
    if not manifest.exists():
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ZhikuError(f"{folder}: no MANIFEST.tsv and no files to parse")
        return [ManifestEntry(str(p.relative_to(folder)), p.suffix.lstrip(".").lower()) for p in files]
    with manifest.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise ZhikuError(f"{manifest}: expected a tab-separated header with a 'file' column")
        entries = [
            ManifestEntry(
                file=(row.get("file") or "").strip(),
                format=(row.get("format") or "").strip(),
                language=(row.get("language") or "").strip(),
                expected=(row.get("expected_markdown") or "").strip(),
            )
            for row in reader
            if (row.get("file") or "").strip()
        ]
    if not entries:
        raise ZhikuError(f"{manifest}: lists no files")
    return entries


# -- evaluation --------------------------------------------------------------------------------------


@dataclass
class FileResult:
    """The record of one file: what the parse produced and, when scored, how faithful it was."""

    file: str
    format: str
    language: str
    ok: bool = False
    error: str = ""
    blocks: int = 0
    tables: int = 0
    chars: int = 0
    seconds: float = 0.0
    scored: bool = False
    text_f1: float | None = None
    text_precision: float | None = None
    text_recall: float | None = None
    table_f1: float | None = None
    table_precision: float | None = None
    table_recall: float | None = None
    #: For --details: the tokens/cells most often missing from our parse or extra in it.
    diff: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON record (without the diff)."""
        data = asdict(self)
        data.pop("diff")
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}


def _diff(ours: list[str], expected: list[str], top: int) -> dict[str, list[list[Any]]]:
    a, b = Counter(ours), Counter(expected)
    return {
        "missing": [[k, n] for k, n in (b - a).most_common(top)],
        "extra": [[k, n] for k, n in (a - b).most_common(top)],
    }


def evaluate_file(
    registry: ParserRegistry,
    folder: Path,
    entry: ManifestEntry,
    *,
    max_bytes: int | None = None,
    zip_limits: ZipLimits | None = None,
    top: int = 30,
) -> FileResult:
    """Parse one manifest entry and score it against its reference Markdown (if any)."""
    result = FileResult(entry.file, entry.format, entry.language)
    expected_text: str | None = None
    if entry.expected:
        expected_path = folder / entry.expected
        try:
            expected_text = expected_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ZhikuError(f"{expected_path}: cannot read the expected Markdown ({exc})") from exc
    started = time.perf_counter()
    doc: ParsedDocument | None = None
    try:
        doc = registry.parse(folder / entry.file, max_bytes=max_bytes, zip_limits=zip_limits)
    except ZhikuError as exc:
        result.error = str(exc)
    result.seconds = time.perf_counter() - started
    if doc is not None:
        result.ok = True
        result.blocks = len(doc.blocks)
        result.chars = len(doc.text)
        result.tables = len(document_tables(doc))
    if expected_text is None:
        return result
    result.scored = True
    ours_tokens = tokens(doc.text) if doc is not None else []
    expected_tokens = tokens(expected_text)
    text = bag_f1(ours_tokens, expected_tokens)
    result.text_f1, result.text_precision, result.text_recall = text.f1, text.precision, text.recall
    result.diff["tokens"] = _diff(ours_tokens, expected_tokens, top)
    expected_cells = cells_of(markdown_tables(expected_text))
    if expected_cells:
        ours_cells = cells_of(document_tables(doc)) if doc is not None else []
        table = bag_f1(ours_cells, expected_cells)
        result.table_f1, result.table_precision, result.table_recall = table.f1, table.precision, table.recall
        result.diff["cells"] = _diff(ours_cells, expected_cells, top)
    return result


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _summary(results: list[FileResult]) -> dict[str, Any]:
    text = [r.text_f1 for r in results if r.text_f1 is not None]
    table = [r.table_f1 for r in results if r.table_f1 is not None]
    return {
        "text_f1_mean": _mean(text),
        "table_f1_mean": _mean(table),
        "n": len(text),
        "n_tables": len(table),
        "n_files": len(results),
        "n_ok": sum(r.ok for r in results),
    }


def evaluate_parsing(
    settings: Settings,
    folder: Path,
    *,
    registry: ParserRegistry | None = None,
    progress: ProgressFactory | None = None,
    details: Path | None = None,
) -> dict[str, Any]:
    """Parse every file of a parsing dataset and score it (see the module docstring).

    Returns ``text_f1_mean``, ``table_f1_mean``, ``n`` (files scored on text), ``n_tables``,
    ``n_files`` (attempted), ``n_ok``, ``by_format`` (the same means per format), ``seconds`` (total
    parse time) and ``files`` (one record per manifest entry, in manifest order). ``details``, when
    given, receives one JSON line per file with the most frequent missing and extra tokens and cells.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ZhikuError(f"{folder}: not a folder (expected a parsing dataset with MANIFEST.tsv)")
    entries = load_manifest(folder)
    if registry is None:
        from ..worker import build_parsers  # the registry ingestion uses, configured from settings

        registry = build_parsers(settings)
    max_bytes = settings.max_file_bytes
    zip_limits = ZipLimits.from_settings(settings)
    results: list[FileResult] = []
    progress_bar = bar(progress, "parse", len(entries))
    try:
        for entry in entries:
            results.append(evaluate_file(registry, folder, entry, max_bytes=max_bytes, zip_limits=zip_limits))
            progress_bar.update()
    finally:
        progress_bar.close()
    by_format: dict[str, Any] = {}
    for fmt in dict.fromkeys(r.format for r in results):
        by_format[fmt] = _summary([r for r in results if r.format == fmt])
    if details is not None:
        _write_details(details, results)
    return {
        "dataset": folder.name,
        **_summary(results),
        "seconds": round(sum(r.seconds for r in results), 3),
        "by_format": by_format,
        "files": [r.record() for r in results],
    }


def _write_details(path: Path, results: list[FileResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps({**r.record(), **r.diff}, ensure_ascii=False) + "\n")


def iter_rows(result: dict[str, Any]) -> Iterator[list[Any]]:
    """Rows of the per-file table (``file, format, ok, blocks, tables, chars, s, text F1, table F1``)."""
    for r in result["files"]:
        yield [
            r["file"],
            r["format"],
            "ok" if r["ok"] else "error",
            r["blocks"],
            r["tables"],
            r["chars"],
            f"{r['seconds']:.2f}",
            "" if r["text_f1"] is None else f"{r['text_f1']:.3f}",
            "" if r["table_f1"] is None else f"{r['table_f1']:.3f}",
        ]


TABLE_HEADERS = ["file", "format", "status", "blocks", "tables", "chars", "seconds", "text_f1", "table_f1"]
