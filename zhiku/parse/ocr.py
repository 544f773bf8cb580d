"""OCR with the Tesseract command-line tool (Debian: ``tesseract-ocr``, ``tesseract-ocr-chi-sim``).

Tesseract runs as a subprocess on one image at a time (PGM bytes on stdin, TSV on stdout), so no
Python binding is needed and a crash or hang in it cannot take zhiku down: it is killed after a
per-page time limit. The TSV's word boxes are grouped into Tesseract's own lines and paragraphs
(its page segmentation already handles columns), each with a pixel bounding box.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import ParseError
from .base import join_lines

if TYPE_CHECKING:
    from PIL.Image import Image

T = TypeVar("T")
#: Debian packages providing each Tesseract language (what to tell the user to install).
_LANGUAGE_PACKAGES = {
    "chi_sim": "tesseract-ocr-chi-sim",
    "chi_tra": "tesseract-ocr-chi-tra",
    "eng": "tesseract-ocr-eng",
}

INSTALL_HINT = (
    "install tesseract-ocr and tesseract-ocr-chi-sim (apt-get install tesseract-ocr tesseract-ocr-chi-sim "
    "tesseract-ocr-eng), or set ocr = off to skip scanned pages"
)


class OcrUnavailable(ParseError):
    """OCR is needed but Tesseract (or one of its languages) is not installed."""


@dataclass(frozen=True)
class OcrOptions:
    """How OCR runs: Tesseract languages (``+``-joined), rendering resolution for PDF pages, page
    segmentation mode, a per-page time limit, the executable, and how many pages of one document are
    read at once (``workers``; 0: one per usable CPU core, at most 4)."""

    languages: str = "chi_sim+eng"
    dpi: int = 300
    psm: int = 3
    timeout: float = 180.0
    binary: str = "tesseract"
    workers: int = 0

    def worker_count(self) -> int:
        if self.workers > 0:
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, 4))


@dataclass
class OcrParagraph:
    """A paragraph Tesseract found: text, box in pixels (x0, y0, x1, y1; y down), line count and mean
    word confidence (0-100). ``page`` is the 1-based frame of a multi-page input."""

    text: str
    bbox: tuple[float, float, float, float]
    lines: int = 1
    confidence: float = 0.0
    page: int = 1


@dataclass
class _Para:
    lines: dict[int, list[tuple[str, int, int, int, int]]] = field(default_factory=dict)
    confs: list[float] = field(default_factory=list)


class Tesseract:
    """One configured Tesseract; checks once that the binary and the languages exist."""

    def __init__(self, options: OcrOptions | None = None) -> None:
        self.options = options or OcrOptions()
        self._problem: str | None = None
        self._checked = False

    def problem(self) -> str | None:
        """Why OCR cannot run here (a message with what to install), or None when it can."""
        if not self._checked:
            self._problem = self._find_problem()
            self._checked = True
        return self._problem

    def available(self) -> bool:
        """True when Tesseract and every configured language are installed."""
        return self.problem() is None

    def require(self) -> None:
        """Raise ``OcrUnavailable`` (with what to install) unless OCR can run."""
        problem = self.problem()
        if problem:
            raise OcrUnavailable(problem)

    def _find_problem(self) -> str | None:
        binary = shutil.which(self.options.binary)
        if binary is None:
            return f"scanned page needs OCR but tesseract was not found: {INSTALL_HINT}"
        try:
            proc = subprocess.run(
                [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False, env=_env()
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"scanned page needs OCR but tesseract does not run ({exc}): {INSTALL_HINT}"
        installed = {line.strip() for line in (proc.stdout + proc.stderr).splitlines()[1:]}
        wanted = [lang for lang in self.options.languages.split("+") if lang]
        missing = [lang for lang in wanted if lang not in installed]
        if missing:
            packages = " ".join(_LANGUAGE_PACKAGES.get(m, f"tesseract-ocr-{m.replace('_', '-')}") for m in missing)
            return (
                f"OCR language(s) {', '.join(missing)} not installed for tesseract: apt-get install {packages} "
                "(or change ocr_languages)"
            )
        return None

    def recognize(self, image: Image, *, page: int = 1, dpi: int | None = None) -> list[OcrParagraph]:
        """OCR one image (``dpi``: its resolution when known, else the configured one); paragraphs in
        Tesseract's reading order with pixel boxes."""
        self.require()
        data = _pgm(image)
        command = [
            self.options.binary,
            "stdin",
            "stdout",
            "-l",
            self.options.languages,
            "--psm",
            str(self.options.psm),
            "--dpi",
            str(dpi or self.options.dpi),
            "tsv",
        ]
        try:
            proc = subprocess.run(
                command, input=data, capture_output=True, timeout=self.options.timeout, check=False, env=_env()
            )
        except subprocess.TimeoutExpired as exc:
            raise ParseError(f"OCR took longer than {self.options.timeout:.0f} s on page {page}; stopped") from exc
        except OSError as exc:
            raise OcrUnavailable(f"cannot run tesseract: {exc}: {INSTALL_HINT}") from exc
        if proc.returncode != 0:
            reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ParseError(f"OCR failed on page {page}: {reason[-1] if reason else proc.returncode}")
        return parse_tsv(proc.stdout.decode("utf-8", "replace"), page=page)


#: One Tesseract run under way: its paragraphs, or the ParseError / OcrUnavailable it raised.
Run = Future[list["OcrParagraph"]]


class OcrQueue(Generic[T]):
    """Tesseract runs of one document's pages, several at once, handed back in the order submitted.

    Only the Tesseract runs (external processes) overlap: callers render or decode pages on their own
    thread (pdfium is not thread-safe). At most two images per worker wait in memory, since a 300-dpi
    A4 page is ~9 MB and a 500-page scan must not hold them all: ``submit`` hands back the oldest runs
    (each with its tag) to be collected before it queues more, and ``drain`` the rest."""

    def __init__(self, tesseract: Tesseract, workers: int) -> None:
        self._tesseract = tesseract
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._waiting: deque[tuple[T, Run]] = deque()

    def submit(self, tag: T, image: Image, *, page: int, dpi: int | None) -> list[tuple[T, Run]]:
        """Queue ``image`` (``Tesseract.recognize`` arguments); the runs to collect first, oldest first."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="zhiku-ocr")
        done = []
        while len(self._waiting) >= 2 * self._workers:
            done.append(self._waiting.popleft())
        self._waiting.append((tag, self._pool.submit(self._tesseract.recognize, image, page=page, dpi=dpi)))
        return done

    def drain(self) -> Iterator[tuple[T, Run]]:
        """Every run not handed back yet, in the order submitted."""
        while self._waiting:
            yield self._waiting.popleft()

    def close(self) -> None:
        """Cancel the runs not started, wait for the running ones (each under its time limit)."""
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> OcrQueue[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _env() -> dict[str, str]:
    # One thread each: the pages of a scan are read by several Tesseract processes at once
    # (``OcrOptions.workers``), and Tesseract's own OpenMP threads mostly spin on 2 cores.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def _pgm(image: Image) -> bytes:
    """The image as 8-bit greyscale PGM (Tesseract reads it from stdin without any codec)."""
    gray = image.convert("L") if image.mode != "L" else image
    buffer = io.BytesIO()
    gray.save(buffer, format="PPM")
    return buffer.getvalue()


def parse_tsv(tsv: str, *, page: int = 1) -> list[OcrParagraph]:
    """Tesseract TSV (level, page, block, par, line, word, left, top, width, height, conf, text) to
    paragraphs. Words are joined with spaces except between CJK characters."""
    paras: dict[tuple[int, int, int], _Para] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        if not word:
            continue
        try:
            frame, block, par, line = int(cols[1]), int(cols[2]), int(cols[3]), int(cols[4])
            left, top, width, height = int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9])
            conf = float(cols[10])
        except ValueError:
            continue
        para = paras.setdefault((frame, block, par), _Para())
        para.lines.setdefault(line, []).append((word, left, top, left + width, top + height))
        para.confs.append(conf)
    out: list[OcrParagraph] = []
    for (frame, _, _), para in paras.items():
        text = ""
        boxes: list[tuple[int, int, int, int]] = []
        for words in para.lines.values():
            line_text = ""
            for word, *box in words:
                line_text = join_lines(line_text, word)
                boxes.append((box[0], box[1], box[2], box[3]))
            text = _join_line(text, line_text)
        bbox = (
            float(min(b[0] for b in boxes)),
            float(min(b[1] for b in boxes)),
            float(max(b[2] for b in boxes)),
            float(max(b[3] for b in boxes)),
        )
        conf = sum(para.confs) / len(para.confs)
        out.append(OcrParagraph(text, bbox, len(para.lines), round(conf, 1), page + frame - 1))
    return out


def _join_line(paragraph: str, line: str) -> str:
    if paragraph.endswith("-") and len(paragraph) > 1 and paragraph[-2].isalpha() and line[:1].islower():
        return paragraph[:-1] + line
    return join_lines(paragraph, line)


def describe(paragraphs: list[OcrParagraph]) -> dict[str, Any]:
    """Summary numbers for a document's metadata."""
    confs = [p.confidence for p in paragraphs]
    return {"ocr_paragraphs": len(paragraphs), "ocr_mean_confidence": round(sum(confs) / len(confs), 1) if confs else 0}
