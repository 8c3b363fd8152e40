"""Which store errors pass: a driver's transient errors become `StoreUnavailable`.

A transient error says nothing about the data: the connection was lost, PostgreSQL is shutting
down or restarting, the transaction lost a serialization conflict or a deadlock, SQLite's file
is locked by another writer. The same work, tried again once the store is back, succeeds.
Everything else (a constraint the data breaks, a value out of range, a bug in a statement)
stays what it is: trying again would fail the same way.

`StoreUnavailable` carries a short description (the driver's error class and the first line
of its message), never the statement or its parameters, so it can be logged as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import exc

from bijli.kernel.unit import StoreUnavailable

DRIVER_ERRORS: tuple[type[Exception], ...] = (exc.DBAPIError,)
"""What a statement raises when the database refuses or cuts it (SQLAlchemy's wrapping of the
driver's error): for an edge that answers for the store without importing its driver."""

SQLITE_TRANSIENT = ("database is locked", "database table is locked", "unable to open database file", "disk i/o error")
"""What SQLite says when another writer holds the file, or the file cannot be reached now."""


def is_transient(error: BaseException) -> bool:
    """Whether `error` (SQLAlchemy's, or a driver's own) goes away when the same work is tried again later."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or (error.orig is not None and is_transient(error.orig))
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError):  # no connection free in the pool; one lost
        return True
    if isinstance(error, psycopg.OperationalError):
        # PostgreSQL's operational classes: 08 (connection), 40 (serialization failure,
        # deadlock), 53 (out of connections or disk), 57 (shutting down, restarting, cancelled),
        # 55 (database not accepting connections), and a connection lost without a SQLSTATE.
        return True
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return any(words in message for words in SQLITE_TRANSIENT)
    return False


def describe(error: BaseException) -> str:
    """The driver's error class and the first line of what it said (no SQL, no parameters)."""
    cause = error.orig if isinstance(error, exc.DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    said = lines[0] if lines else ""
    state = getattr(cause, "sqlstate", None)
    return f"{type(cause).__name__}{f' [{state}]' if state else ''}: {said}"[:300]


@contextmanager
def translated() -> Iterator[None]:
    """Raise `StoreUnavailable` for a transient store error in the block; any other passes unchanged."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as e:
        if is_transient(e):
            raise StoreUnavailable(describe(e)) from e
        raise
