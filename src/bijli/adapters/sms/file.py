"""The file SMS provider, the default for alerts on a site with no SMS gateway yet (and the
demo): each message is one JSON line in a file, and, if asked, on the terminal too."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bijli.alerts.ports import Message, SendFailed


class FileSms:
    """Appends each message to `path` as a JSON line (message id, number, template id,
    language, text, time). A message id already in the file is not written again, as a
    gateway drops a repeated client reference."""

    def __init__(self, path: Path, echo: TextIO | None = None) -> None:
        self.path = path
        self.echo = echo
        self._seen: set[str] | None = None
        self._lock = threading.Lock()

    def _known(self) -> set[str]:
        if self._seen is None:
            self._seen = set()
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        self._seen.add(str(json.loads(line)["message_id"]))
                    except (ValueError, KeyError, TypeError):  # a torn last line from a crash
                        continue
        return self._seen

    def send(self, message: Message) -> str:
        with self._lock:
            if message.message_id in self._known():
                return message.message_id
            line = json.dumps(
                {
                    "message_id": message.message_id,
                    "to": message.to,
                    "template_id": message.template_id,
                    "language": message.language,
                    "text": message.text,
                    "at": datetime.now(UTC).isoformat(),
                },
                ensure_ascii=False,
            )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode("utf-8"))  # one write: whole lines only
                finally:
                    os.close(fd)
            except OSError as e:
                raise SendFailed(f"cannot write {self.path}: {e.strerror}") from e
            self._known().add(message.message_id)
        if self.echo is not None:
            print(f"SMS to {message.to}: {message.text}", file=self.echo, flush=True)
        return message.message_id
