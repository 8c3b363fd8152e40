"""`bijli quarantine …`: an operator lists what the head-end set aside and reprocesses the
frames of a meter that was put into service after it had started sending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.fleet.commissioning import commission_city
from bijli.headend.handlers import ingest_batch
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, IST, epoch, utc_from_epoch
from tests.support.cli import bijli_said
from tests.support.frames import reading

LATE = "KNCL0000003"
"""A meter that sends before it is commissioned."""


def quarantine(*args: str) -> tuple[int, str]:
    """Run `bijli quarantine …` in a wide terminal: its exit code and everything it wrote, on one line."""
    return bijli_said("quarantine", *args)


def send_early(p: Platform, frames: int) -> datetime:
    """Frames from the meter not yet in service, ingested now; when they were received."""
    now = datetime.now(UTC)
    last = utc_from_epoch(epoch(now) // 900 * 900) - INTERVAL
    deliveries = [
        Delivery(*reading(p.settings.site_keys, LATE, n + 1, last - (frames - 1 - n) * INTERVAL, wh=100))
        for n in range(frames)
    ]
    ingest_batch(p.store, deliveries, p.ring, "bijli", now)
    return now


def test_the_quarantine_says_so_when_it_is_empty(store: list[str]) -> None:
    assert quarantine("list", *store) == (0, "the quarantine is empty")
    assert quarantine("list", "--meter", LATE, "--reason", "unknown-meter", *store) == (
        0,
        f"the quarantine is empty for reason unknown-meter, meter {LATE}",
    )
    assert quarantine("reprocess", *store) == (0, "nothing waiting to be reprocessed")


def test_frames_of_a_meter_commissioned_late_are_listed_then_reprocessed_once(
    platform: Platform, store: list[str]
) -> None:
    received = send_early(platform, 2)

    code, said = quarantine("list", *store)
    assert code == 0, said
    assert said.startswith("2 kept frames; times in IST")
    assert f"{received.astimezone(IST):%d %b %Y %H:%M}" in said
    assert said.count(f"{LATE} unknown-meter meter {LATE} is not registered waiting") == 2
    assert quarantine("list", "--since", f"{received.astimezone(IST) + timedelta(minutes=1):%Y-%m-%dT%H:%M}", *store)[
        1
    ].startswith("the quarantine is empty")

    code, said = quarantine("reprocess", "--dry-run", *store)
    assert (code, said.split(" ┏")[0]) == (
        0,
        "2 kept frames: 0 stored, 0 duplicate (nothing new), 0 refused, 2 still waiting, 0 still not storable"
        " (dry run: nothing changed)",
    )
    commission_city(platform.store, platform.settings.tariff_code, build_city(6), datetime.now(UTC) - timedelta(days=1))
    code, said = quarantine("reprocess", "--meter", LATE, *store)
    assert code == 0, said
    assert said.startswith(
        "2 kept frames: 2 stored, 0 duplicate (nothing new), 0 refused, 0 still waiting, 0 still not storable;"
        " 2 readings stored"
    )

    assert quarantine("reprocess", *store) == (0, "nothing waiting to be reprocessed")
    assert platform.queries.count_readings() == 2
    code, said = quarantine("list", "--reason", "unknown-meter", *store)
    assert said.count(": stored") == 2


def test_a_reason_that_cannot_change_is_refused_with_the_ones_that_can(store: list[str]) -> None:
    code, said = quarantine("reprocess", "--reason", "replayed", *store)
    assert code == 2
    assert "never reprocessed" in said and "unknown-meter" in said
