"""A meter's registration with its consumer's account, as commissioned. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bijli.kernel.time import ist_day, month_key


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRegistration:
    """A meter and its consumer's account, as commissioned (a transformer's meter has none)."""

    meter_id: str
    area: str
    feeder: str
    transformer: str
    phases: int
    installed_at: datetime
    account_no: str | None = None
    consumer_name: str = ""
    mobile: str = ""
    tariff_code: str = ""
    sanctioned_load_w: int = 0
    initial_register_wh: int | None = None
    """The import register at installation: the first month's charges count from it."""

    @property
    def first_month(self) -> str:
        """The billing month the meter was installed in (IST)."""
        return month_key(ist_day(self.installed_at))
