"""Disputes raised straight through the use case, as the consumer app raises them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from bijli.accounts.disputes import Dispute
from bijli.fleet.city import Consumer


def a_dispute(
    home: Consumer, day: date, at: datetime, evidence: Mapping[str, str | int | None], reason: str = "too_high"
) -> Dispute:
    """`home`'s dispute of `day`'s charge, raised from its mobile at `at` with the day's figures as it saw them."""
    return Dispute(
        dispute_id=0,
        account_no=home.account_no,
        meter_id=home.meter_id,
        day=day,
        reason=reason,
        raised_by=home.mobile,
        raised_at=at,
        evidence=evidence,
    )
