"""Recharge tokens: a meter takes its own token once, and nothing else."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bijli.protocol import keys, tokens
from bijli.protocol.tokens import Redemption, TokenStatus, UsedTokens, issue_token, next_free_id, redeem

SECRET = bytes(32)
METER = "KNCL0000001"
NEIGHBOUR = "KNCL0000002"
KEY = tokens.token_key(SECRET, METER)
AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SOON = AT + timedelta(minutes=5)

# The golden vector also printed in docs/protocol.md section 11: change one only with the other.
GOLDEN_DIGITS = "01680537560758605420"
GOLDEN_ID = 1_528_440
PROTOCOL_DOC = Path(__file__).parents[3] / "docs" / "protocol.md"


def issue(rupees: int = 500, at: datetime = AT, meter: str = METER) -> tokens.Token:
    return issue_token(tokens.token_key(SECRET, meter), meter, rupees * 100, at)


def test_issued_token_is_accepted_once_for_its_amount() -> None:
    token = issue(500)
    used = UsedTokens()

    result = redeem(KEY, token.digits, SOON, used)

    assert result == Redemption(status=TokenStatus.ACCEPTED, token_id=token.token_id, amount_paise=50_000)
    assert used.contains(token.token_id)


def test_token_is_twenty_digits_grouped_by_four_on_the_receipt() -> None:
    token = issue(500)

    assert len(token.digits) == 20 and token.digits.isdigit()
    assert token.grouped() == " ".join(token.digits[i : i + 4] for i in range(0, 20, 4))
    assert token.issued_at == AT and token.meter_id == METER and token.amount_paise == 50_000


@pytest.mark.parametrize("typed", ["grouped", "hyphens", "padded"])
def test_token_typed_with_spaces_or_hyphens_is_accepted(typed: str) -> None:
    token = issue(250)
    digits = {
        "grouped": token.grouped(),
        "hyphens": token.grouped().replace(" ", "-"),
        "padded": f"  {token.digits[:7]} {token.digits[7:]} ",
    }[typed]

    assert redeem(KEY, digits, SOON, UsedTokens()).status == TokenStatus.ACCEPTED


@pytest.mark.parametrize("position", range(20))
def test_any_single_changed_digit_is_refused(position: int) -> None:
    digits = issue(500).digits
    for replacement in "0123456789":
        if replacement == digits[position]:
            continue
        forged = digits[:position] + replacement + digits[position + 1 :]
        used = UsedTokens()

        result = redeem(KEY, forged, SOON, used)

        assert result.status in (TokenStatus.AUTHENTICATION, TokenStatus.FORMAT), forged
        assert len(used) == 0


@pytest.mark.parametrize(
    "digits",
    [
        "",
        "1234",
        "0168053756075860542",  # 19 digits
        "016805375607586054201",  # 21 digits
        "0168053756075860542x",
        "0168053756075860542\u0660",  # an Arabic-Indic zero is not an ASCII digit
        "99999999999999999999",  # above 2**66 - 1
    ],
)
def test_malformed_digits_are_a_format_error(digits: str) -> None:
    assert redeem(KEY, digits, SOON, UsedTokens()) == Redemption(status=TokenStatus.FORMAT)


@pytest.mark.parametrize("token_class", [2, 3])
def test_unknown_token_kind_is_a_format_error(token_class: int) -> None:
    # Kind 1 (class 2 or 3) with a tag made correctly for it: refused for the kind, not the tag.
    payload = (token_class << 40) | (GOLDEN_ID << 16) | 500
    tag = hmac.new(KEY, payload.to_bytes(6, "big"), hashlib.sha256).digest()[:3]
    digits = f"{(payload << 24) | int.from_bytes(tag, 'big'):020d}"

    assert redeem(KEY, digits, SOON, UsedTokens()).status == TokenStatus.FORMAT


def test_the_class_carries_the_parity_of_the_key_version() -> None:
    odd = issue_token(KEY, METER, 50_000, AT, key_version=3)
    even = issue_token(KEY, METER, 50_000, AT, key_version=2)

    assert int(odd.digits) >> 64 == 0 and int(even.digits) >> 64 == 1
    assert odd.digits == issue(500).digits  # version 1 and 3 tokens look alike; one change at a time


def test_a_meter_mid_change_picks_the_token_key_by_parity_and_checks_one_tag() -> None:
    old_key, new_key = KEY, tokens.token_key(bytes(range(32)), METER)
    held = {1: new_key, 0: old_key}  # moved from version 1 (odd) to version 2 (even)
    before = issue_token(old_key, METER, 50_000, AT, key_version=1)
    after = issue_token(new_key, METER, 20_000, AT + timedelta(minutes=1), key_version=2)

    assert redeem(held, before.digits, SOON, UsedTokens()).status == TokenStatus.ACCEPTED
    assert redeem(held, after.digits, SOON, UsedTokens()).status == TokenStatus.ACCEPTED
    # The new key's token under the old parity is refused: the meter never tries both keys.
    wrong_parity = issue_token(new_key, METER, 20_000, AT, key_version=3)
    assert redeem(held, wrong_parity.digits, SOON, UsedTokens()).status == TokenStatus.AUTHENTICATION
    assert redeem({0: old_key}, after.digits, SOON, UsedTokens()).status == TokenStatus.AUTHENTICATION


def test_token_for_another_meter_fails_authentication() -> None:
    token = issue(500, meter=NEIGHBOUR)
    used = UsedTokens()

    assert redeem(KEY, token.digits, SOON, used) == Redemption(status=TokenStatus.AUTHENTICATION)
    assert len(used) == 0


def test_replayed_token_is_refused_as_used() -> None:
    token = issue(500)
    used = UsedTokens()
    redeem(KEY, token.digits, SOON, used)

    again = redeem(KEY, token.digits, SOON, used)

    assert again.status == TokenStatus.USED
    assert used.to_list() == [token.token_id]


def test_once_memory_is_full_an_older_id_is_refused_as_old() -> None:
    used = UsedTokens(capacity=3)
    older = issue(100, at=AT)
    for minute in (1, 2, 3):
        assert redeem(KEY, issue(100, at=AT + timedelta(minutes=minute)).digits, SOON, used).status == 0

    result = redeem(KEY, older.digits, SOON, used)

    assert result.status == TokenStatus.OLD
    assert used.oldest == older.token_id + 1


def test_an_older_id_is_accepted_while_memory_has_room() -> None:
    used = UsedTokens(capacity=3)
    redeem(KEY, issue(100, at=AT + timedelta(minutes=2)).digits, SOON, used)

    assert redeem(KEY, issue(100, at=AT).digits, SOON, used).status == TokenStatus.ACCEPTED
    assert used.oldest == GOLDEN_ID


def test_full_memory_forgets_the_lowest_id_and_refuses_it_again() -> None:
    used = UsedTokens(capacity=2)
    first, second, third = (issue(100, at=AT + timedelta(minutes=m)) for m in (0, 1, 2))
    for token in (second, first, third):  # typed out of order
        assert redeem(KEY, token.digits, SOON, used).status == TokenStatus.ACCEPTED

    assert used.to_list() == [second.token_id, third.token_id]
    assert redeem(KEY, first.digits, SOON, used).status == TokenStatus.OLD


def test_token_past_its_validity_is_expired() -> None:
    token = issue(500)

    assert redeem(KEY, token.digits, AT + timedelta(days=30), UsedTokens()).status == TokenStatus.ACCEPTED
    assert redeem(KEY, token.digits, AT + timedelta(days=30, minutes=1), UsedTokens()).status == TokenStatus.EXPIRED
    assert redeem(KEY, token.digits, AT + timedelta(days=8), UsedTokens(), validity=timedelta(days=7)).status == 5


def test_token_from_more_than_ten_minutes_ahead_of_the_meter_clock_is_future() -> None:
    token = issue(500)

    assert redeem(KEY, token.digits, AT - timedelta(minutes=10), UsedTokens()).status == TokenStatus.ACCEPTED
    assert redeem(KEY, token.digits, AT - timedelta(minutes=11), UsedTokens()).status == TokenStatus.FUTURE


def test_meter_clock_in_any_zone_is_compared_as_the_same_instant() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))

    assert redeem(KEY, issue(500).digits, SOON.astimezone(ist), UsedTokens()).status == TokenStatus.ACCEPTED


def test_token_that_would_pass_the_credit_limit_is_out_of_range() -> None:
    token = issue(500)
    used = UsedTokens()

    full = redeem(KEY, token.digits, SOON, used, balance_paise=9_960_000)
    assert full == Redemption(status=TokenStatus.RANGE, token_id=token.token_id, amount_paise=50_000)
    assert len(used) == 0
    assert redeem(KEY, token.digits, SOON, used, balance_paise=9_950_000).status == TokenStatus.ACCEPTED
    assert redeem(KEY, issue(10).digits, SOON, UsedTokens(), credit_limit_paise=500).status == TokenStatus.RANGE


@pytest.mark.parametrize("rupees", [1, 65_535])
def test_amount_is_carried_exactly_at_both_ends(rupees: int) -> None:
    token = issue(rupees)

    result = redeem(KEY, token.digits, SOON, UsedTokens(), credit_limit_paise=10**9)

    assert result.status == TokenStatus.ACCEPTED
    assert result.amount_paise == token.amount_paise == rupees * 100


@pytest.mark.parametrize("paise", [0, 6_553_600, 1_050, -50_000, 1])
def test_issue_refuses_amounts_a_token_cannot_carry(paise: int) -> None:
    with pytest.raises(ValueError, match="rupees"):
        issue_token(KEY, METER, paise, AT)


def test_issue_refuses_a_time_without_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        issue_token(KEY, METER, 50_000, datetime(2026, 11, 27, 10, 0))


def test_issue_refuses_times_outside_the_id_range() -> None:
    with pytest.raises(ValueError, match="before 2024-01-01"):
        issue_token(KEY, METER, 50_000, datetime(2023, 12, 31, 23, 59, tzinfo=UTC))
    last = tokens.time_of(tokens.MAX_TOKEN_ID)
    assert issue_token(KEY, METER, 50_000, last).token_id == 2**24 - 1
    with pytest.raises(ValueError, match="token ids end"):
        issue_token(KEY, METER, 50_000, last + timedelta(minutes=1))


def test_issue_refuses_a_malformed_meter_id() -> None:
    with pytest.raises(ValueError, match="not a meter id"):
        issue_token(KEY, "kncl0000001", 50_000, AT)


def test_issue_time_is_the_minute_of_the_id() -> None:
    token = issue(500, at=AT + timedelta(seconds=59, microseconds=1))

    assert token.token_id == GOLDEN_ID
    assert token.issued_at == AT


def test_second_token_in_a_minute_moves_to_the_next_free_minute() -> None:
    first = issue(500)
    later = AT + timedelta(seconds=30)
    token_id = next_free_id({first.token_id}, later)
    second = issue_token(KEY, METER, 20_000, later, token_id=token_id)
    used = UsedTokens()

    assert second.token_id == first.token_id + 1
    assert second.issued_at == AT + timedelta(minutes=1)
    assert redeem(KEY, first.digits, SOON, used).status == TokenStatus.ACCEPTED
    assert redeem(KEY, second.digits, SOON, used).status == TokenStatus.ACCEPTED


def test_issue_refuses_an_id_before_or_far_after_the_minute_of_issue() -> None:
    with pytest.raises(ValueError, match="minute of issue"):
        issue_token(KEY, METER, 50_000, AT, token_id=GOLDEN_ID - 1)
    with pytest.raises(ValueError, match="minute of issue"):
        issue_token(KEY, METER, 50_000, AT, token_id=GOLDEN_ID + 11)
    assert issue_token(KEY, METER, 50_000, AT, token_id=GOLDEN_ID + 10).token_id == GOLDEN_ID + 10


def test_used_tokens_survive_a_round_trip_through_a_list() -> None:
    used = UsedTokens(capacity=4)
    for token_id in (30, 10, 20):
        used.add(token_id)

    saved = json.loads(json.dumps(used.to_list()))
    restored = UsedTokens.from_list(saved, capacity=4)

    assert saved == [10, 20, 30]
    assert restored.to_list() == saved and restored.oldest == 10 and not restored.full
    with pytest.raises(ValueError, match="twice"):
        UsedTokens.from_list([1, 1])
    with pytest.raises(ValueError, match="do not fit"):
        UsedTokens.from_list([1, 2, 3], capacity=2)
    with pytest.raises(ValueError, match="outside"):
        UsedTokens.from_list([2**24])


def test_empty_memory_has_no_oldest_and_refuses_nothing_as_old() -> None:
    used = UsedTokens()

    assert used.oldest is None
    assert not used.is_old(0)


def test_redeem_needs_a_meter_clock_with_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        redeem(KEY, GOLDEN_DIGITS, datetime(2026, 11, 27, 10, 5), UsedTokens())


def test_golden_vector_matches_the_documented_recipe() -> None:
    token = issue_token(
        tokens.token_key(bytes(32), "KNCL0000001"), "KNCL0000001", 50_000, datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    )

    # Recomputed here from the recipe in docs/protocol.md, without the code under test.
    key = hmac.new(bytes(32), b"bijli/v1/token/" + b"KNCL0000001", hashlib.sha256).digest()
    minutes = int((datetime(2026, 11, 27, 10, 0, tzinfo=UTC) - datetime(2024, 1, 1, tzinfo=UTC)).total_seconds()) // 60
    payload = (0 << 40) | (minutes << 16) | 500
    tag = int.from_bytes(hmac.new(key, payload.to_bytes(6, "big"), hashlib.sha256).digest()[:3], "big")
    expected = f"{(payload << 24) | tag:020d}"

    assert key == keys.derive(bytes(32), keys.TOKEN_LABEL, "KNCL0000001") == tokens.token_key(bytes(32), METER)
    assert minutes == token.token_id == GOLDEN_ID
    assert token.digits == expected == GOLDEN_DIGITS
    assert token.grouped() == "0168 0537 5607 5860 5420"


def test_documented_decoder_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = PROTOCOL_DOC.read_text(encoding="utf-8")
    after_marker = doc.split("<!-- token-example:", 1)[1]
    code = after_marker.split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(code, str(PROTOCOL_DOC), "exec"), {"__name__": "token_example"})

    out = capsys.readouterr().out
    assert GOLDEN_DIGITS in doc
    assert out.splitlines()[-1] == f"class 0, id {GOLDEN_ID}, issued 2026-11-27T10:00:00+00:00, ₹500"
