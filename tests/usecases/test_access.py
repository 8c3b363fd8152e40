"""Logging in, sessions and tokens, on every store: who gets in, and who is kept out."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest

from bijli.access import handlers as access
from bijli.access.model import ATTEMPT_WINDOW, MAX_FAILURES, SESSION_LIFETIME, Identity, Kind, Role
from bijli.access.secrets import WeakPassword
from bijli.fleet.city import build_city
from tests.support.world import World
from tests.usecases.conftest import day

PASSWORD = "transformer-42-civil-lines"
HERE = "10.0.0.7"
CITY = build_city(4)


class Outbox:
    """An SMS gateway that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, text: str) -> None:
        self.sent.append((to, text))

    def code(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.sent[-1][1])
        assert found
        return found.group(1)


@pytest.fixture
def sharma(world: World) -> World:
    access.add_staff(world.store, "sharma", Role.OPERATOR, PASSWORD, day())
    return world


def test_staff_with_the_right_password_get_a_session_that_says_who_they_are(sharma: World) -> None:
    key = access.staff_login(sharma.store, "Sharma", PASSWORD, "", HERE, day())

    assert access.identify_session(sharma.store, key, day()) == Identity(
        kind=Kind.STAFF, name="sharma", role=Role.OPERATOR
    )
    assert access.identify_session(sharma.store, key, day() + SESSION_LIFETIME) is None  # it ends
    assert access.identify_session(sharma.store, "bijli_not-a-session", day()) is None


def test_a_wrong_password_or_an_unknown_name_is_refused_alike(sharma: World) -> None:
    with pytest.raises(access.LoginRefused, match="wrong user name, password or code"):
        access.staff_login(sharma.store, "sharma", "not-the-password", "", HERE, day())
    with pytest.raises(access.LoginRefused, match="wrong user name, password or code"):
        access.staff_login(sharma.store, "verma", PASSWORD, "", HERE, day())


def test_five_failures_lock_the_name_for_the_window_even_against_the_right_password(sharma: World) -> None:
    for n in range(MAX_FAILURES):
        with pytest.raises(access.LoginRefused):
            access.staff_login(sharma.store, "sharma", f"guess-{n}", "", HERE, day() + timedelta(seconds=n))

    with pytest.raises(access.TooManyAttempts) as locked:
        access.staff_login(sharma.store, "sharma", PASSWORD, "", "10.9.9.9", day() + timedelta(minutes=1))
    assert locked.value.until == day() + ATTEMPT_WINDOW
    later = day() + ATTEMPT_WINDOW + timedelta(seconds=MAX_FAILURES)
    assert access.staff_login(sharma.store, "sharma", PASSWORD, "", HERE, later)


def test_a_second_factor_is_needed_once_set_up_and_each_code_works_once(sharma: World) -> None:
    secret = access.set_up_totp(sharma.store, "sharma")
    assert secret is not None
    code = pyotp.TOTP(secret).at(day())

    with pytest.raises(access.LoginRefused):
        access.staff_login(sharma.store, "sharma", PASSWORD, "", HERE, day())
    assert access.staff_login(sharma.store, "sharma", PASSWORD, code, HERE, day())
    with pytest.raises(access.LoginRefused):  # the same code again: someone watched it typed
        access.staff_login(sharma.store, "sharma", PASSWORD, code, HERE, day() + timedelta(seconds=5))


def test_weak_passwords_and_taken_names_are_refused(sharma: World) -> None:
    with pytest.raises(WeakPassword):
        access.add_staff(sharma.store, "verma", Role.BILLING, "short", day())
    with pytest.raises(WeakPassword):
        access.add_staff(sharma.store, "verma", Role.BILLING, "verma-verma-verma", day())
    with pytest.raises(access.AccessError, match="already"):
        access.add_staff(sharma.store, "sharma", Role.ADMIN, PASSWORD + "x", day())


def test_a_consumer_logs_in_with_a_code_sent_to_their_mobile_and_sees_only_their_meter(world: World) -> None:
    me = CITY[1]
    sms = Outbox()
    typed = me.mobile.removeprefix("+91")[:5] + " " + me.mobile.removeprefix("+91")[5:]
    assert access.send_code(world.store, sms, typed, HERE, day()) == me.mobile
    assert [to for to, _ in sms.sent] == [me.mobile]

    key = access.consumer_login(world.store, me.mobile, sms.code(), HERE, day() + timedelta(minutes=1))
    who = access.identify_session(world.store, key, day())
    assert who == Identity(kind=Kind.CONSUMER, name=me.mobile, role=Role.CONSUMER, meter_ids=frozenset({me.meter_id}))
    assert who.may_see(me.meter_id) and not who.may_see(CITY[0].meter_id)


def test_a_code_works_once_and_only_for_five_minutes(world: World) -> None:
    me, sms = CITY[0], Outbox()
    access.send_code(world.store, sms, me.mobile, HERE, day())
    code = sms.code()
    with pytest.raises(access.LoginRefused):
        access.consumer_login(world.store, me.mobile, code, HERE, day() + timedelta(minutes=5))
    access.send_code(world.store, sms, me.mobile, HERE, day() + timedelta(minutes=6))
    code = sms.code()
    assert access.consumer_login(world.store, me.mobile, code, HERE, day() + timedelta(minutes=7))
    with pytest.raises(access.LoginRefused):
        access.consumer_login(world.store, me.mobile, code, HERE, day() + timedelta(minutes=7))


def test_a_number_without_an_account_gets_the_same_answer_and_no_sms(world: World) -> None:
    sms = Outbox()
    assert access.send_code(world.store, sms, "9123456789", HERE, day()) == "+919123456789"
    assert sms.sent == []
    with pytest.raises(access.AccessError, match="not a mobile number"):
        access.send_code(world.store, sms, "12345", HERE, day())


def test_codes_to_one_number_are_limited_and_guessing_locks_it(world: World) -> None:
    me, sms = CITY[2], Outbox()
    for n in range(3):
        access.send_code(world.store, sms, me.mobile, HERE, day() + timedelta(seconds=n))
    with pytest.raises(access.TooManyAttempts):
        access.send_code(world.store, sms, me.mobile, HERE, day() + timedelta(seconds=3))
    assert len(sms.sent) == 3

    real = sms.code()
    for n in range(MAX_FAILURES):
        with pytest.raises(access.LoginRefused):
            access.consumer_login(world.store, me.mobile, f"{n:06d}", HERE, day() + timedelta(seconds=10 + n))
    with pytest.raises(access.TooManyAttempts):
        access.consumer_login(world.store, me.mobile, real, HERE, day() + timedelta(seconds=20))


def test_one_address_cannot_try_endlessly_across_names(sharma: World) -> None:
    for n in range(30):
        with pytest.raises(access.LoginRefused):
            access.staff_login(sharma.store, f"user{n}", "guess-guess-guess", "", HERE, day() + timedelta(seconds=n))
    with pytest.raises(access.TooManyAttempts):
        access.staff_login(sharma.store, "sharma", PASSWORD, "", HERE, day() + timedelta(seconds=31))
    assert access.staff_login(sharma.store, "sharma", PASSWORD, "", "10.0.0.8", day() + timedelta(seconds=32))


def test_logout_ends_the_session(sharma: World) -> None:
    key = access.staff_login(sharma.store, "sharma", PASSWORD, "", HERE, day())
    access.logout(sharma.store, key)
    assert access.identify_session(sharma.store, key, day()) is None


def test_a_bearer_token_names_its_integration_until_revoked_and_only_its_hash_is_kept(world: World) -> None:
    token = access.create_token(world.store, "billing-system", Role.BILLING, "cli", day())

    assert access.identify_token(world.store, token) == Identity(
        kind=Kind.TOKEN, name="token:billing-system", role=Role.BILLING
    )
    assert token not in repr(access.tokens(world.store))
    access.revoke_token(world.store, "billing-system", day())
    assert access.identify_token(world.store, token) is None
    with pytest.raises(access.AccessError, match="already"):
        access.create_token(world.store, "billing-system", Role.BILLING, "cli", day())
    with pytest.raises(access.AccessError, match="consumers log in"):
        access.create_token(world.store, "app", Role.CONSUMER, "cli", day())
