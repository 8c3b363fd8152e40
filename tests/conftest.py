"""Shared fixtures: the real services on this machine, free ports, the bijli command, and the
SMS gateway and mail server the alert tests deliver to.

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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from bijli.access import secrets
from bijli.adapters import keyfile
from bijli.adapters.db import engine as db_engine
from tests.support.sms_gateway import Gateway, running_gateway

if TYPE_CHECKING:
    from tests.support.mailbox import Mailbox

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


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes() -> Iterator[None]:
    """Passwords and codes hashed in the tests' own process cost little: argon2id still, salted,
    at the least work (a login takes milliseconds, not a good fraction of a second). What the
    tests show, the right secret taken and a wrong one refused, does not depend on the work
    factor; the `bijli` processes the end-to-end tests start hash at the real one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """The PostgreSQL server's maintenance connection, for making and dropping databases."""
    require("PostgreSQL on 127.0.0.1:5432", port_open("127.0.0.1", 5432))
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


class Dropper:
    """Drops the tests' databases in the background, a few at once: PostgreSQL 15 makes every
    DROP DATABASE wait for a checkpoint (a second or more), which the next tests need not wait
    for, and drops waiting together share one."""

    def __init__(self, admin: sa.Engine) -> None:
        self.admin = admin
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drop-test-databases")
        self.drops: list[Future[None]] = []

    def drop(self, names: list[str]) -> None:
        self.drops += [self.pool.submit(self._drop, name) for name in names]

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        """Wait for every drop asked for; fail the run if one could not be made."""
        self.pool.shutdown(wait=True)
        failures = [str(d.exception()) for d in self.drops if d.exception() is not None]
        assert not failures, f"test databases left behind: {failures}"


@pytest.fixture(scope="session")
def pg_dropper(pg_admin: sa.Engine) -> Iterator[Dropper]:
    dropper = Dropper(pg_admin)
    yield dropper
    dropper.close()


@pytest.fixture(scope="session")
def pg_template(pg_admin: sa.Engine) -> Iterator[str]:
    """A database brought up to the newest schema once a run, by every migration in turn; the
    tests' databases are copies of it (a copy costs a fraction of running the migrations again)."""
    name = f"bijli_test_template_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        engine = db_engine.create(_pg_url(name))
        try:
            db_engine.upgrade(engine)
        finally:
            engine.dispose()  # a database is copied only while nobody is connected to it
        yield name
    finally:
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def new_pg_database(
    request: pytest.FixtureRequest, pg_admin: sa.Engine, pg_dropper: Dropper
) -> Iterator[Callable[..., str]]:
    """Makes new PostgreSQL databases for one test, all dropped afterwards: each with the newest
    schema already, or empty with ``empty=True`` (for a test of the migrations themselves)."""
    names: list[str] = []

    def make(empty: bool = False) -> str:
        name = f"bijli_test_{uuid.uuid4().hex[:12]}"
        copy = "" if empty else f' TEMPLATE "{request.getfixturevalue("pg_template")}"'
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
        names.append(name)
        return _pg_url(name)

    yield make
    pg_dropper.drop(names)


@pytest.fixture
def pg_url(new_pg_database: Callable[..., str]) -> str:
    """A new PostgreSQL database for one test with the newest schema, dropped afterwards."""
    return new_pg_database()


@pytest.fixture
def empty_pg_url(new_pg_database: Callable[..., str]) -> str:
    """A new, empty PostgreSQL database for one test (no schema yet), dropped afterwards."""
    return new_pg_database(empty=True)


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


SERVE_STARTS_WITHIN_S = 120
"""How long `bijli serve` may take to migrate, warm up and listen before a test says it hung
(a few seconds on a quiet machine; far more with every core taken)."""


@pytest.fixture
def bijli_server() -> Iterator[Callable[[list[str]], str]]:
    """Start `bijli serve …` in the background; yields a starter returning its base URL."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str]) -> str:
        port = free_port()
        proc = subprocess.Popen([*BIJLI, "serve", *args, "--port", str(port)])
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVE_STARTS_WITHIN_S
        while time.monotonic() < deadline:
            assert proc.poll() is None, "bijli serve exited early"
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"bijli serve did not answer within {SERVE_STARTS_WITHIN_S} s")

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
def gateway() -> Iterator[Gateway]:
    """A local HTTP SMS gateway that keeps every request it takes."""
    with running_gateway() as g:
        yield g


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    """A real SMTP server in a process of its own, killed at the end; what it accepted, in a file."""
    from tests.support.mailbox import Mailbox  # not at the top: it takes `port_open` from here

    box = Mailbox(free_port(), tmp_path / "mailbox.jsonl").start()
    yield box
    box.kill()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A site's data folder: its key file made, as `bijli keys init` makes it."""
    folder = tmp_path / "data"
    keyfile.create(keyfile.path_in(folder))
    return folder
