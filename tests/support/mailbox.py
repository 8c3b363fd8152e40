"""A real SMTP server for the alert tests (aiosmtpd), in a process of its own so a test can
kill it: every message it accepts is one JSON line in a file, written before it answers 250.
A recipient at ``refused.example`` is refused with 550.

Run: ``python -m tests.support.mailbox PORT FILE``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

from tests.conftest import port_open


class Keep:
    """aiosmtpd handler: keeps each message in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=default)
        body = mail.get_body(("plain",))
        line = {
            "message_id": str(mail["Message-ID"]),
            "to": list(envelope.rcpt_tos),
            "subject": str(mail["Subject"]),
            "language": str(mail["Content-Language"]),
            "text": body.get_content() if body is not None else "",  # type: ignore[attr-defined]
        }
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return "250 OK"


class Mailbox:
    """The SMTP server process and what it received (across restarts)."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Mailbox:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.mailbox", str(self.port), str(self.path)],
            cwd=Path(__file__).resolve().parents[2],
        )
        deadline = time.monotonic() + 20
        while not port_open("127.0.0.1", self.port):
            assert self.proc.poll() is None, "the SMTP server did not start"
            assert time.monotonic() < deadline, "the SMTP server did not listen in time"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def messages(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    from aiosmtpd.controller import Controller

    port, path = int(sys.argv[1]), Path(sys.argv[2])
    controller = Controller(Keep(path), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
