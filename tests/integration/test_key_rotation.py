"""A key rotation through the real dispatcher, store and meter twins: each meter gets its new
keys wrapped under its old frame key, answers under the new one, and is moved; what it sent
before is still taken; commands and tokens follow the version each meter holds; a key change
whose answer was lost is answered again; a retired version is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bijli.adapters import keyfile
from bijli.adapters.db import schema as t
from bijli.headend.commands import Status
from bijli.headend.handlers import ingest_batch
from bijli.headend.key_change import held_version, key_counts, start_key_change
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, epoch
from bijli.protocol import tokens
from bijli.protocol.codec import key_version, open_command
from bijli.protocol.frames import KEY_CHANGE
from bijli.protocol.keys import SiteKeys
from tests.integration.test_commands import CITY, CL1, CL2, ROOT, START, Site
from tests.integration.test_commands import platform as platform  # the fixtures of the command tests' site
from tests.integration.test_commands import site as site

TOKEN_AT = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


def rotate(site: Site) -> SiteKeys:
    """What `bijli keys rotate` does: version 2 in the key file, a key change for every meter."""
    cfg = site.platform.settings
    before = keyfile.load(cfg.data_dir)
    rotated = replace(before, versions={**before.versions, 2: keyfile.new_masters()}, current=2)
    keyfile.save(keyfile.path_in(cfg.data_dir), rotated)
    start_key_change(site.platform.store, 1, 2, site.now(), requested_by="asha.ops", reason="yearly rotation")
    return rotated


def readings(site: Site) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM readings")).scalar_one())


def key_changes(site: Site) -> dict[str, Status]:
    c = t.commands.c
    with site.engine.connect() as conn:
        rows = conn.execute(sa.select(c.meter_id, c.status).where(c.action == KEY_CHANGE))
        return {m: Status(s) for m, s in rows}


def test_a_rotation_moves_every_meter_and_nothing_is_lost_on_the_way(site: Site) -> None:
    site.meters_come_online()
    old_token = tokens.issue_token(site.platform.settings.site_keys.token_key(CL1, 1), CL1, 50_000, TOKEN_AT)
    rotated = rotate(site)

    site.seen(*(c.meter_id for c in CITY))
    report = site.tick()
    assert report.sent == len(CITY)
    # Each key change goes out under the meter's old key, its new keys wrapped, not in the clear.
    sent = list(site.published)
    for topic, payload in sent[:3]:
        meter_id = topic.split("/")[3]
        assert key_version(payload) == 1
        frame = open_command(rotated.frame_key(meter_id, 1), meter_id, payload)
        assert not isinstance(frame, type(None)) and frame.action == KEY_CHANGE  # type: ignore[union-attr]
        assert frame.args["version"] == 2  # type: ignore[union-attr]
        assert rotated.frame_key(meter_id, 2).hex() not in payload.decode()

    # The meters have not heard their commands yet: they still report under version 1, taken.
    site.twin.close_interval(START)
    site.clock.set(START + INTERVAL + timedelta(seconds=30))
    site.meters_report()
    assert readings(site) == len(CITY)
    site.commands_reach_meters()

    assert set(key_changes(site).values()) == {Status.CONFIRMED}
    assert key_counts(site.platform.store, 2) == {2: (len(CITY), 0)}
    assert {int(v) for v in site.twin.keys.version} == {2}

    # From now on the meters seal with version 2, and it is taken.
    site.twin.close_interval(START + INTERVAL)
    site.clock.set(START + 2 * INTERVAL + timedelta(seconds=30))
    outgoing = site.twin.take_outgoing()
    assert outgoing and {key_version(o.payload) for o in outgoing} == {2}
    ingest_batch(
        site.platform.store, [Delivery(o.topic, o.payload) for o in outgoing], site.platform.ring, ROOT, site.now()
    )
    assert readings(site) == 2 * len(CITY)
    with site.engine.connect() as conn:
        assert list(conn.execute(sa.text("SELECT reason, detail FROM quarantine LIMIT 2"))) == []

    # Commands are sealed with the version each meter holds now.
    site.ask("read_now", CL2)
    site.tick()
    (topic, payload), *_ = site.published
    assert key_version(payload) == 2
    site.published.clear()

    # A token bought before the change still opens the meter; a new one is made with version 2.
    assert held_version(site.platform.store, CL1, 2) == 2
    new_token = tokens.issue_token(rotated.token_key(CL1, 2), CL1, 20_000, TOKEN_AT, key_version=2)
    site.twin.press_button(CL1, epoch(site.now()))
    assert site.twin.redeem(CL1, old_token.digits, epoch(site.now())).status == tokens.TokenStatus.ACCEPTED
    assert site.twin.redeem(CL1, new_token.digits, epoch(site.now())).status == tokens.TokenStatus.USED  # same minute
    later = tokens.issue_token(rotated.token_key(CL1, 2), CL1, 20_000, TOKEN_AT + timedelta(minutes=1), key_version=2)
    assert site.twin.redeem(CL1, later.digits, epoch(site.now())).status == tokens.TokenStatus.ACCEPTED


def test_a_key_change_whose_answer_was_lost_is_answered_again(site: Site) -> None:
    site.meters_come_online()
    rotate(site)
    site.tick()
    site.commands_reach_meters(drop=lambda o: o.topic.endswith("/up/ack"))  # the meters moved; their 'done' lost
    assert int(site.twin.keys.version[site.twin.index[CL1]]) == 2
    assert held_version(site.platform.store, CL1, 2) == 1
    assert set(key_changes(site).values()) == {Status.SENT}

    site.later(site.dispatcher.policy.ack_timeout.total_seconds() + 1)
    site.seen(*(c.meter_id for c in CITY))
    site.tick()
    assert {key_version(payload) for _, payload in site.published} == {1}  # the head-end thinks they hold 1
    site.commands_reach_meters()

    assert set(key_changes(site).values()) == {Status.CONFIRMED}
    assert held_version(site.platform.store, CL1, 2) == 2
    assert key_counts(site.platform.store, 2) == {2: (len(CITY), 0)}
    history = site.command(next(iter(site.all_commands()))).history
    assert "already done" in history[-2].detail or "already done" in history[-1].detail


def test_frames_of_a_retired_version_are_refused_as_unknown_key(site: Site) -> None:
    site.meters_come_online()
    cfg = site.platform.settings
    site_keys = keyfile.load(cfg.data_dir)
    keyfile.save(
        keyfile.path_in(cfg.data_dir),
        SiteKeys(site_keys.identity, {2: keyfile.new_masters()}, 2, frozenset({1})),
    )
    site.platform.ring.refresh_s = 0.0  # the head-end reads the key file again at once

    site.twin.close_interval(START)
    site.clock.set(START + INTERVAL + timedelta(seconds=30))
    site.meters_report()

    assert readings(site) == 0
    with site.engine.connect() as conn:
        reasons = set(conn.execute(sa.text("SELECT reason FROM quarantine")).scalars())
    assert reasons == {"unknown-key"}
