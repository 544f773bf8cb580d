"""Import weight: what a process loads is memory it keeps. Parser workers (one per core) import only
the parsing side; the heavy libraries load when a file needs them."""

from __future__ import annotations

import subprocess
import sys


def _loaded(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_a_parser_worker_imports_no_numpy_pydantic_or_store() -> None:
    heavy = ("numpy", "pydantic", "pydantic_settings", "zhiku.store", "zhiku.settings", "jieba", "lxml", "pypdfium2")
    assert _loaded("from zhiku.worker import serve", heavy) == []
    # Parsing, chunking and analysing an English Markdown file needs none of them either.
    code = (
        "import pathlib, tempfile\n"
        "from zhiku.chunk import Chunker\nfrom zhiku.parse import ParserRegistry\nfrom zhiku.text import Analyzer\n"
        "p = pathlib.Path(tempfile.mkdtemp()) / 'a.md'\n"
        "p.write_text('# Leave\\n\\nNew hires get ten days of leave.\\n')\n"
        "chunks = Chunker(300, 40).chunk(ParserRegistry().parse(p))\n"
        "assert Analyzer().terms(chunks[0].index_text)\n"
    )
    assert _loaded(code, heavy) == []


def test_the_cli_loads_no_server_or_http_client_until_needed() -> None:
    """``zhiku add`` runs next to the embedding model: the web server and the HTTP client stay out."""
    assert _loaded("from zhiku.cli import main", ("httpx", "fastapi", "uvicorn", "jieba")) == []
    code = "from zhiku import App, Settings\nimport tempfile\nApp(Settings(home=tempfile.mkdtemp())).ensure_kb('k')"
    assert _loaded(code, ("httpx", "fastapi", "uvicorn", "jieba")) == []
