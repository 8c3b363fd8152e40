"""What each meter of a fleet holds of its keys, and how a key change moves it on.

Every meter is provisioned with the keys of the site's current version. A key change (the
``key_change`` command) gives it the keys of a new version: it seals with the new frame key
from then on, logs in with the new MQTT password, and keeps its previous token key beside the
new one (the token's parity bit picks which) and its previous frame key only to take the same
key change again if its answer was lost (docs/protocol.md, 5.10 and 11.4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from bijli.protocol import tokens
from bijli.protocol.codec import key_version
from bijli.protocol.frames import KEY_CHANGE, CommandFrame
from bijli.protocol.keys import MeterKeys, SiteKeys


def parity(version: int) -> int:
    """Which of a meter's two token keys a version's is (the class bit of `tokens.class_of`)."""
    return tokens.class_of(tokens.CREDIT, version) & tokens.EVEN_KEY


class FleetKeys:
    """Each meter's key version and keys."""

    def __init__(self, site: SiteKeys, meter_ids: Sequence[str]) -> None:
        self._site = site
        self._provisioned = site.current
        self._meter_ids = list(meter_ids)
        self.version: npt.NDArray[np.int64] = np.full(len(self._meter_ids), site.current, dtype=np.int64)
        """The key version each meter holds."""
        self.frame = [site.frame_key(m) for m in self._meter_ids]
        """Each meter's frame key (of `version`)."""
        self._previous: dict[int, tuple[int, bytes]] = {}
        self._tokens: dict[int, dict[int, bytes]] = {}
        self._mqtt: dict[int, str] = {}

    def token_keys(self, i: int) -> dict[int, bytes]:
        """Meter i's token keys by parity."""
        found = self._tokens.get(i)
        if found is None:
            v = self._provisioned
            found = self._tokens[i] = {parity(v): self._site.token_key(self._meter_ids[i], v)}
        return found

    def mqtt_password(self, i: int) -> str:
        """The MQTT password meter i logs in with."""
        found = self._mqtt.get(i)
        return found if found is not None else self._site.mqtt_password(self._meter_ids[i], self._provisioned)

    def command_key(self, i: int) -> Callable[[int], bytes | None]:
        """Meter i's frame key of a version: the one it holds, or its previous one."""
        held, previous = int(self.version[i]), self._previous.get(i)

        def of_version(version: int) -> bytes | None:
            if version == held:
                return self.frame[i]
            return previous[1] if previous is not None and previous[0] == version else None

        return of_version

    def takes(self, i: int, command: CommandFrame, payload: bytes) -> bool:
        """Whether meter i acts on an authentic command: one sealed with the version it holds,
        or the key change that brought it there, sent again under the previous key."""
        held = int(self.version[i])
        return key_version(payload) == held or (command.action == KEY_CHANGE and command.args.get("version") == held)

    def rekey(self, i: int, new: MeterKeys) -> None:
        """Meter i takes the keys of a new version."""
        old = int(self.version[i])
        old_token = self.token_keys(i)[parity(old)]
        self._previous[i] = (old, self.frame[i])
        self._tokens[i] = {parity(old): old_token, parity(new.version): new.token_key}
        self.frame[i] = new.frame_key
        self.version[i] = new.version
        self._mqtt[i] = new.mqtt_password
