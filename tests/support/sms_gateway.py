"""A local HTTP SMS gateway for the alert tests: takes JSON messages as `HttpSmsGateway`
sends them, keeps every request, and, as real gateways do, sends a repeated client reference
only once. It can be told to answer with errors first, or to refuse some numbers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Gateway:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        """What reached phones, by client reference (a repeat is not sent again)."""
        self.fail_next: list[int] = []
        """Statuses to answer the next requests with, in turn (then 200)."""
        self.refused_numbers: set[str] = set()
        self.key = "test-gateway-key"
        self.delay_s = 0.0
        """How long each request takes (a slow gateway keeps a worker busy for a kill to land)."""
        self.lock = threading.Lock()
        self.url = ""

    def answer(self, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.lock:
            self.requests.append(body)
            if authorization != f"Bearer {self.key}":
                return 401, {"error": "bad key"}
            if self.fail_next:
                return self.fail_next.pop(0), {"error": "try later"}
            if body.get("to") in self.refused_numbers:
                return 400, {"error": "number is on the do-not-disturb list"}
            ref = str(body["client_ref"])
            self.delivered.setdefault(ref, body)
            return 200, {"message_id": f"gw-{ref}"}


@contextmanager
def running_gateway() -> Iterator[Gateway]:
    gateway = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            status, answer = gateway.answer(body, self.headers.get("Authorization"))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/v1/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
