"""`bijli pay` without a server: the development gateway signs the payment and hands it to the
webhook's use case on the data folder's store; a repeat changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bijli.fleet.city import build_city
from bijli.protocol import tokens
from tests.conftest import run_bijli
from tests.support.sites import commissioned_platform

CITY = build_city(2)


def test_bijli_pay_credits_once_and_prints_the_token(data_dir: Path) -> None:
    platform = commissioned_platform(data_dir, CITY, datetime.now(UTC) - timedelta(days=1), new_site=False)
    account, meter = CITY[0].account_no, CITY[0].meter_id
    before = platform.queries.balance(account).balance_paise

    first = json.loads(run_bijli(["pay", account, "250", "--data-dir", str(data_dir)]).strip().splitlines()[-1])
    assert (first["status"], first["applied"], first["amount"]) == ("captured", True, "250.00")
    (token,) = first["tokens"]
    taken = tokens.redeem(
        platform.settings.site_keys.token_key(meter), token["token"], datetime.now(UTC), tokens.UsedTokens()
    )
    assert (taken.status, taken.amount_paise, taken.token_id) == (
        tokens.TokenStatus.ACCEPTED,
        25_000,
        token["token_id"],
    )

    again = run_bijli(["pay", account, "250", "--payment-id", first["payment_id"], "--data-dir", str(data_dir)])
    assert json.loads(again.strip().splitlines()[-1])["applied"] is False
    assert platform.queries.balance(account).balance_paise == before + 25_000
    assert (data_dir / "payments.secret").stat().st_mode & 0o077 == 0
    platform.store.dispose()
