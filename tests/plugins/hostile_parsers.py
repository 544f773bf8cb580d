"""Parser plugins for the ingestion tests (loaded through ``Settings.parser_plugins``, so they run in
the real worker processes): one that never returns, one that never returns after starting a helper
process (as the PDF parser starts Tesseract), one that kills its own process, and one whose documents
carry attachments."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from zhiku.parse import ParserRegistry
from zhiku.types import Attachment, Block, ParsedDocument


class Sleepy:
    """A parser stuck forever (an infinite loop in a real library looks the same from outside)."""

    def parse(self, path: Path) -> ParsedDocument:
        time.sleep(3600)
        raise AssertionError("unreachable")


class Spawner:
    """A parser stuck after starting a helper process; the helper's pid goes to ``<file>.pid``."""

    def parse(self, path: Path) -> ParsedDocument:
        helper = subprocess.Popen(["sleep", "3600"])
        path.with_suffix(".pid").write_text(str(helper.pid), encoding="utf-8")
        time.sleep(3600)
        raise AssertionError("unreachable")


class Crash:
    """A parser that takes its process down (a segfault in a C library looks the same)."""

    def parse(self, path: Path) -> ParsedDocument:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class Bundle:
    """A container format: each line ``name: text`` of the file is an attachment."""

    def parse(self, path: Path) -> ParsedDocument:
        lines = path.read_text(encoding="utf-8").splitlines()
        doc = ParsedDocument.from_blocks([Block("paragraph", f"Bundle {path.stem} with {len(lines)} attachments")])
        for line in lines:
            name, _, text = line.partition(": ")
            doc.attachments.append(Attachment(name, text.encode("utf-8")))
        return doc


def register(registry: ParserRegistry) -> None:
    registry.register([".sleepy"], Sleepy, label="sleepy")
    registry.register([".spawner"], Spawner, label="spawner")
    registry.register([".crash"], Crash, label="crash")
    registry.register([".bundle"], Bundle, label="bundle")
