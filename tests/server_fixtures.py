"""Helpers for the server tests: an ``App`` over the demo corpus and a real uvicorn server in a thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from loopback import wait_until_up

from zhiku.app import App
from zhiku.server import create_app
from zhiku.settings import Settings

KB = "handbook"

try:
    from zhiku.demo import DEMO_DIR
except ImportError:  # pragma: no cover - the demo corpus is part of the package
    DEMO_DIR = None  # type: ignore[assignment]

_FALLBACK = {
    "handbook_en.md": "# Leave\n\n## Annual leave\n\nNew hires get 10 days of paid annual leave.\n\n"
    "## Remote work\n\nEmployees may work remotely up to 2 days per week.\n",
    "员工手册.md": "# 年假\n\n新员工入职第一年享有 10 天带薪年假。年假在兰亭 Hub 申请。\n",
}


def demo_corpus(tmp: Path) -> Path:
    """The packaged demo corpus, or a tiny stand-in written to ``tmp`` if it is missing."""
    if DEMO_DIR is not None and Path(DEMO_DIR).is_dir():
        return Path(DEMO_DIR)
    folder = tmp / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in _FALLBACK.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def build_app(home: Path, embedder: str = "hash") -> App:
    """An ``App`` on ``home`` with the knowledge base ``handbook`` holding the demo corpus."""
    app = App(Settings(home=home, embedder=embedder))
    app.create_kb(KB, "Lanting Tech employee handbook")
    report = app.add(KB, [demo_corpus(home)])
    assert report.ok, report.failed
    return app


@dataclass
class RunningServer:
    app: App
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_server(app: App) -> Iterator[RunningServer]:
    """Serve ``app`` with a real uvicorn server on a free port of 127.0.0.1 until the block ends.

    The caller owns ``app`` and closes it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(app), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    running = RunningServer(app, port)
    try:
        wait_until_up(f"{running.url}/api/health", alive=thread.is_alive, interval=0.05)
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
