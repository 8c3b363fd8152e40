"""The load switch (disconnect control, OBIS 0.0.96.3.10.255) as status frames report it."""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

RelayWord = Literal["connected", "disconnected", "ready_for_reconnection"]


class RelayState(IntEnum):
    """Output state of the disconnect control object."""

    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2

    @property
    def word(self) -> RelayWord:
        """The state as the API and pages name it."""
        return _WORDS[self]

    @classmethod
    def of(cls, code: int | None) -> RelayState | None:
        """A reported code as a state; None when unknown or not reported."""
        if code is None:
            return None
        try:
            return cls(code)
        except ValueError:
            return None


_WORDS: dict[RelayState, RelayWord] = {
    RelayState.DISCONNECTED: "disconnected",
    RelayState.CONNECTED: "connected",
    RelayState.READY_FOR_RECONNECTION: "ready_for_reconnection",
}
