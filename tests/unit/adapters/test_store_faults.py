"""Which store errors mean "try again later": transient driver errors become StoreUnavailable,
errors in the data stay what they are."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import exc

from bijli.adapters.db.faults import describe, translated
from bijli.kernel.unit import StoreUnavailable


def wrapped(orig: Exception, cls: type[exc.DBAPIError] = exc.OperationalError) -> exc.DBAPIError:
    """The driver's error as SQLAlchemy raises it, with the statement and a secret-looking parameter."""
    return cls("INSERT INTO readings VALUES (%(x)s)", {"x": "s3cret-parameter"}, orig)


TRANSIENT = {
    "serialization failure": wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
    "deadlock": wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
    "admin shutdown": wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command")),
    "restarting": wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
    "connection lost": wrapped(psycopg.OperationalError("consuming input failed: server closed the connection")),
    "cannot connect": psycopg.OperationalError('connection to server at "127.0.0.1", port 5432 failed'),
    "sqlite locked": wrapped(sqlite3.OperationalError("database is locked")),
    "pool exhausted": exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
}
PERMANENT = {
    "unique violation": wrapped(psycopg.errors.UniqueViolation("duplicate key"), exc.IntegrityError),
    "value out of range": wrapped(psycopg.errors.NumericValueOutOfRange("integer out of range"), exc.DataError),
    "sqlite constraint": wrapped(sqlite3.IntegrityError("CHECK constraint failed"), exc.IntegrityError),
    "sqlite missing table": wrapped(sqlite3.OperationalError("no such table: readings")),
    "a bug": TypeError("unsupported operand"),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_transient_error_becomes_store_unavailable_without_the_statement_or_its_parameters(error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as caught, translated():
        raise error
    assert caught.value.__cause__ is error
    assert "INSERT" not in str(caught.value) and "s3cret" not in str(caught.value)


@pytest.mark.parametrize("error", PERMANENT.values(), ids=PERMANENT.keys())
def test_an_error_in_the_data_stays_what_it_is(error: Exception) -> None:
    with pytest.raises(type(error)) as caught, translated():
        raise error
    assert caught.value is error


def test_the_description_names_the_driver_error_and_its_sqlstate() -> None:
    error = wrapped(psycopg.errors.AdminShutdown("terminating connection due to administrator command\nmore"))
    assert describe(error) == "AdminShutdown [57P01]: terminating connection due to administrator command"
