"""`bijli serve` at its edge, over real sockets: a foreign Host is refused, a 200 MB POST is
refused at once with its memory untouched, and /health answers all the while."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIJLI, SERVE_STARTS_WITHIN_S, free_port, wait_until

BIG = 200 * 1024 * 1024
CHUNK = 1024 * 1024


@pytest.fixture
def server(data_dir: Path) -> Iterator[tuple[int, int]]:
    """`bijli serve` on a free port, answering bijli.kesco.example too; its port and process id."""
    port = free_port()
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port), "--allowed-host", "bijli.kesco.example"]
    proc = subprocess.Popen([*BIJLI, *args])

    def answers() -> bool:
        assert proc.poll() is None, "bijli serve exited early"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, SERVE_STARTS_WITHIN_S, "bijli serve to answer")
    yield port, proc.pid
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_foreign_host_is_refused_and_a_named_one_answered(server: tuple[int, int]) -> None:
    port, _ = server
    url = f"http://127.0.0.1:{port}/api/v1/health"
    foreign = httpx.get(url, headers={"Host": "evil.example"})
    assert foreign.status_code == 400
    assert foreign.json() == {
        "detail": "host 'evil.example' is not served here; see docs/operations.md (allowed hosts)"
    }
    assert httpx.get(url, headers={"Host": "bijli.kesco.example"}).status_code == 200
    assert httpx.get(url, headers={"Host": "localhost:8000"}).status_code == 200
    # Refused before anyone is asked who they are: the same 400, not a 401.
    assert httpx.get(f"http://127.0.0.1:{port}/api/v1/meters", headers={"Host": "evil.example"}).status_code == 400


def post_200_mb(port: int, chunked: bool) -> tuple[bytes, float, list[int]]:
    """POST 200 MB (declared, or chunked with no length) while reading the answer; the answer's
    first line, how long it took, and how much of the body the server took before it closed."""
    length = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {BIG}".encode()
    head = b"POST /api/v1/meters/KNCL0000001/commands HTTP/1.1\r\nHost: localhost\r\n"
    head += b"Content-Type: application/json\r\n" + length + b"\r\n\r\n"
    sent = [0]
    conn = socket.create_connection(("127.0.0.1", port), timeout=20)

    def send_body() -> None:
        piece = (f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n") if chunked else b" " * CHUNK
        try:
            while sent[0] < BIG:
                conn.sendall(piece)
                sent[0] += CHUNK
        except OSError:  # the server closed the connection: what it wanted to say is said
            pass

    began = time.monotonic()
    conn.sendall(head)
    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        got = conn.recv(4096)
        if not got:
            break
        answer += got
    took = time.monotonic() - began
    sender.join(timeout=20)
    conn.close()
    return answer.split(b"\r\n", 1)[0], took, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_200_mb_post_is_refused_fast_with_flat_memory_while_health_answers(
    server: tuple[int, int], chunked: bool
) -> None:
    port, pid = server
    before = rss_mb(pid)
    health: list[float] = []
    done = threading.Event()

    def ask_health() -> None:
        while not done.is_set():
            t = time.monotonic()
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200
            health.append(time.monotonic() - t)

    asker = threading.Thread(target=ask_health, daemon=True)
    asker.start()
    status, took, sent = post_200_mb(port, chunked)
    answered = len(health)
    wait_until(lambda: len(health) >= answered + 3, 10, "/health to answer after the refusal")
    done.set()
    asker.join(timeout=10)

    assert status.startswith(b"HTTP/1.1 413 ")
    assert took < 2
    assert sent[0] < BIG  # the server closed the connection long before the end
    assert rss_mb(pid) - before < 20
    assert health and max(health) < 1
