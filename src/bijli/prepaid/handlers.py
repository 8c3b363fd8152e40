"""Prepaid use cases: recharge an account, commission accounts with opening balances."""

from __future__ import annotations

from datetime import datetime

from bijli.adapters.db.store import Store
from bijli.prepaid.model import recharge


def record_recharge(store: Store, account_no: str, amount_paise: int, payment_reference: str, now: datetime) -> None:
    """Credit a paid recharge once, however often the payment is reported."""
    with store.transaction() as tx:
        tx.post([recharge(account_no, amount_paise, payment_reference)], now)
