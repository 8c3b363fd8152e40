"""No SMS gateway: a site that has not set one up yet."""

from __future__ import annotations

from bijli.access.ports import SmsUnavailable


class NoSms:
    """Refuses every message: consumers cannot log in by code (the login page says so)."""

    def send(self, to: str, text: str) -> None:
        raise SmsUnavailable("no SMS gateway is set up (for a trial: bijli serve --sms console)")
