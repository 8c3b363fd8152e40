"""The console SMS provider, for the demo and trials: it prints each message on the terminal
instead of sending it. Never for production: a login code is in what it prints."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

log = logging.getLogger(__name__)


class ConsoleSms:
    """Prints every message to `stream` (default: standard error); the log gets only that one
    was sent, never its text, so codes stay out of the logs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, to: str, text: str) -> None:
        stream = self.stream or sys.stderr
        print(f"SMS to {to}: {text}", file=stream, flush=True)
        log.info("SMS to %s…%s shown on the console", to[:5], to[-2:])
