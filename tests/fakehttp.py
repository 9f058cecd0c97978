"""A local fake of a cloud's REST API, on 127.0.0.1 only, for testing the real client libraries.

The fake answers like the service: the client library builds the real requests (paths, query
strings, auth headers) and parses the real response shapes, so the code under test runs unchanged.
Every request is recorded, so a test can assert what the library actually sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# (method, path, query) → (status, JSON body)
Route = Callable[[str, str, dict[str, list[str]]], tuple[int, Any]]


@dataclass
class Fake:
    """A running fake: its base URL and the requests it received."""

    url: str
    requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)


@contextmanager
def serve(route: Route) -> Iterator[Fake]:
    """Serve ``route`` on 127.0.0.1 (a free port) in a thread for the duration of the block."""
    fake = Fake(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            fake.requests.append((self.command, parts.path, query, dict(self.headers)))
            status, body = route(self.command, parts.path, query)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
