"""Alerts by e-mail over SMTP (stdlib `smtplib`): plain, STARTTLS or implicit TLS, with a
user name and password when the relay asks for them.

Each alert's mail has the same ``Message-ID`` on every try (``<bijli-alert-<id>-email@domain>``),
so a repeat after a crash is recognisable (mail clients show one message per id). A 5xx
answer is final (the relay will never take it); a 4xx, a timeout or a lost connection is
tried again later.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from bijli.alerts.ports import Message, SendFailed

MODES = ("plain", "starttls", "tls")


class SmtpMail:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        mode: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 15.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"SMTP mode {mode!r} is not one of {', '.join(MODES)}")
        self.host, self.port, self.sender, self.mode = host, port, sender, mode
        self.username, self.password = username, password
        self.timeout_s = timeout_s
        self.context = context or ssl.create_default_context()
        self.domain = sender.rpartition("@")[2] or "bijli.invalid"

    def mail(self, message: Message) -> EmailMessage:
        """The e-mail for one alert (the same headers and text on every try)."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = f"<{message.message_id}@{self.domain}>"
        mail["Date"] = formatdate(usegmt=True)
        mail.set_content(message.text + "\n")
        mail["Content-Language"] = message.language  # after the content, which resets Content-* headers
        return mail

    def send(self, message: Message) -> str:
        mail = self.mail(message)
        try:
            if self.mode == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=self.context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.mode == "starttls":
                    smtp.starttls(context=self.context)
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            raise SendFailed(f"the mail relay refused {message.to}: {codes}", final=all(c >= 500 for c in codes)) from e
        except smtplib.SMTPResponseException as e:
            raise SendFailed(f"the mail relay answered {e.smtp_code}", final=e.smtp_code >= 500) from e
        except (smtplib.SMTPException, OSError) as e:
            raise SendFailed(f"mail relay unreachable: {type(e).__name__}") from e
        return str(mail["Message-ID"])
