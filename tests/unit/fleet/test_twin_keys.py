"""A twin meter takes a key change: its new keys unwrapped under its old frame key, its answer
and everything after sealed with the new version; a command under the old key is ignored,
but for the key change itself sent again."""

from __future__ import annotations

from collections.abc import Sequence

from bijli.fleet.twin import Outgoing
from bijli.protocol import keys
from bijli.protocol.codec import key_version, open_frame, seal
from bijli.protocol.frames import PROTOCOL_VERSION, AckFrame, CommandFrame
from tests.support.keys import site_for
from tests.unit.fleet.test_twin_relay_credit import METER, MONDAY, World

ROTATED = site_for(versions=2)  # version 1 is the twins' own (tests.support.keys.SITE)
AT = MONDAY.timestamp() + 60


def command(fc: int, action: str, args: dict[str, int], version: int, command_id: str | None = None) -> bytes:
    frame = CommandFrame(
        v=PROTOCOL_VERSION, m=METER, fc=fc, ts=int(AT), command_id=command_id or f"cmd-{fc}", action=action, args=args
    )
    return seal(ROTATED.frame_key(METER, version), frame, version)


def key_change(fc: int) -> bytes:
    args = keys.key_change_args(ROTATED.frame_key(METER, 1), ROTATED.meter_keys(METER, 2))
    return command(fc, "key_change", args, 1, command_id="key-change")


def answers(sent: Sequence[Outgoing]) -> list[tuple[int | None, str, str]]:
    """(key version, status, detail) of the meter's acks among what it sent."""
    out = []
    for o in sent:
        if o.topic.endswith("/up/ack"):
            frame = open_frame(ROTATED.frame_key(METER, key_version(o.payload)), METER, o.payload)
            assert isinstance(frame, AckFrame)
            out.append((key_version(o.payload), frame.status, frame.detail))
    return out


def test_a_key_change_moves_the_meter_to_the_new_version() -> None:
    world = World()
    i = world.twin.index[METER]

    assert answers(world.send(key_change(1), AT)) == [(2, "done", "key version 2")]
    assert int(world.twin.keys.version[i]) == 2
    assert world.twin.mqtt_password(METER) == ROTATED.mqtt_password(METER, 2)
    world.twin.send_status(i, AT + 1)
    assert {key_version(o.payload) for o in world.run_to(AT + 1)} == {2}


def test_after_the_change_only_the_new_key_commands_the_meter() -> None:
    world = World()
    world.send(key_change(1), AT)

    assert answers(world.send(command(2, "read_now", {}, 1), AT + 1)) == []  # the old key: ignored
    assert answers(world.send(command(3, "read_now", {}, 2), AT + 2)) == [(2, "done", "")]


def test_the_same_key_change_sent_again_under_the_old_key_is_answered_again() -> None:
    world = World()
    world.send(key_change(1), AT)

    assert answers(world.send(key_change(2), AT + 60)) == [(2, "done", "already done")]
    assert int(world.twin.keys.version[world.twin.index[METER]]) == 2
