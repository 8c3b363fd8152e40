"""Shared fixtures: the real services on this machine, free ports, the bijli command.

A test that needs PostgreSQL or Mosquitto skips when the service is missing on a developer's
machine, and fails under CI (CI=true), where every service is mandatory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bijli.adapters import keyfile

PG_ADMIN_URL = os.environ.get("BIJLI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MQTT_HOST, MQTT_PORT = "127.0.0.1", int(os.environ.get("BIJLI_TEST_MQTT_PORT", "1883"))
BIJLI = [sys.executable, "-m", "bijli"]


def require(service: str, available: bool) -> None:
    """Skip locally, fail in CI, when a service a test needs is not there."""
    if available:
        return
    message = f"{service} is not reachable"
    if os.environ.get("CI"):
        pytest.fail(f"{message}, and CI requires it")
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def new_pg_database() -> Iterator[Callable[[], str]]:
    """Makes new, empty PostgreSQL databases for one test; all dropped afterwards."""
    require("PostgreSQL on 127.0.0.1:5432", port_open("127.0.0.1", 5432))
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make() -> str:
        name = f"bijli_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(new_pg_database: Callable[[], str]) -> str:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    return new_pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each kind of store in turn: None (SQLite in the data folder), then a new PostgreSQL database."""
    url: str | None = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    return url


@pytest.fixture
def mosquitto() -> str:
    """The machine's Mosquitto, as a broker URL."""
    require(f"Mosquitto on {MQTT_HOST}:{MQTT_PORT}", port_open(MQTT_HOST, MQTT_PORT))
    return f"mqtt://{MQTT_HOST}:{MQTT_PORT}"


@pytest.fixture
def topic_root() -> str:
    """A topic root of its own, so tests sharing a broker never see each other's frames."""
    return f"t{uuid.uuid4().hex[:10]}"


def run_bijli(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run the bijli command to completion; its standard output."""
    done = subprocess.run(
        [*BIJLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    assert done.returncode == 0, f"bijli {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def api_token(store_args: list[str], role: str = "admin", name: str = "e2e") -> dict[str, str]:
    """A bearer token made with `bijli access token create` on the store `store_args` name
    (--data-dir, --database-url), as the Authorization header."""
    out = run_bijli(["access", "token", "create", "--role", role, "--name", name, *store_args])
    return {"Authorization": f"Bearer {out.strip().splitlines()[-1]}"}


@pytest.fixture
def bijli_server() -> Iterator[Callable[[list[str]], str]]:
    """Start `bijli serve …` in the background; yields a starter returning its base URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str]) -> str:
        port = free_port()
        proc = subprocess.Popen([*BIJLI, "serve", *args, "--port", str(port)])
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, "bijli serve exited early"
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("bijli serve did not answer within 60 s")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition until it holds; fail with `what` if it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A site's data folder: its key file made, as `bijli keys init` makes it."""
    folder = tmp_path / "data"
    keyfile.create(keyfile.path_in(folder))
    return folder
