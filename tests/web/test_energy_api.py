"""The energy balance through the API: a transformer's day with its intervals and trend, a
feeder's and an area's added up, every balance of a day with the flagged transformers first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bijli import settings
from bijli.bootstrap import Platform, bootstrap
from bijli.kernel.time import ist_midnight
from bijli.network.handlers import balance_due
from tests.support.energy import EnergyCity, energy_city, feed_day
from tests.web.conftest import MakeClient

FIRST = date(2026, 11, 1)
DAY = date(2026, 11, 3)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, EnergyCity]]:
    """Three days of 250 consumers on five metered transformers; one of them hooked with 500 W
    from the second day (where a household's meter also records nothing on the third), one with
    street lights."""
    p = bootstrap(settings.build(data_dir=Path(tmp_path_factory.mktemp("energy")), broker_url="memory", new_site=True))
    ec = energy_city(p, 250, datetime(2026, 10, 1, 6, 30, tzinfo=UTC))
    hooked, lit = ec.transformers[2].transformer, ec.transformers[3].transformer
    for n in range(3):
        day = FIRST + timedelta(days=n)
        silent = {ec.on(hooked)[5].meter_id: 0.0} if n == 2 else {}
        hooks = {hooked: 500.0} if n else {}
        feed_day(p, ec, day, hooks_w=hooks, hook_from=74, lights_w={lit: 400.0}, recorded_share=silent)
        balance_due(p.store, ist_midnight(day) + timedelta(days=1, minutes=10))
    yield p, ec
    p.store.dispose()


def test_a_transformers_day_shows_energy_in_billed_and_the_loss_per_interval(
    city: tuple[Platform, EnergyCity], make_client: MakeClient
) -> None:
    p, ec = city
    dt = ec.transformers[0].transformer
    r = make_client(p).get(f"/api/v1/transformers/{dt}/balance", params={"day": DAY.isoformat()})
    assert r.status_code == 200, r.text
    b = r.json()
    assert (b["level"], b["subject"], b["day"], b["transformers"]) == ("transformer", dt, "2026-11-03", 1)
    assert len(b["intervals"]) == 96 and b["complete"] and not b["estimated"] and b["flagged"] == 0
    supplied = sum(i["supplied_wh"] for i in b["intervals"])
    billed = sum(i["billed_wh"] for i in b["intervals"])
    assert Decimal(b["supplied_kwh"]) * 1000 == supplied and Decimal(b["billed_kwh"]) * 1000 == billed
    assert Decimal(b["loss_kwh"]) * 1000 == supplied - billed
    assert Decimal(b["loss_pct"]) == (Decimal((supplied - billed) * 100) / supplied).quantize(Decimal("0.01"))
    assert [d["day"] for d in b["trend"]["days"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert b["intervals"][0]["start"] == "2026-11-02T18:30:00Z"


def test_the_hooked_transformer_is_flagged_from_the_day_the_hook_came(
    city: tuple[Platform, EnergyCity], make_client: MakeClient
) -> None:
    p, ec = city
    api = make_client(p)
    hooked = ec.transformers[2].transformer
    before = api.get(f"/api/v1/transformers/{hooked}/balance", params={"day": "2026-11-01"}).json()
    after = api.get(f"/api/v1/transformers/{hooked}/balance", params={"day": DAY.isoformat()}).json()
    assert before["flagged"] == 0 and after["flagged"] == 1
    assert 250 <= after["excess_w"] <= 650  # the evening beyond its usual (the load square takes a little)
    assert Decimal(after["trend"]["points_per_day"]) > 0
    lit = api.get(f"/api/v1/transformers/{ec.transformers[3].transformer}/balance", params={"day": DAY.isoformat()})
    assert lit.json()["flagged"] == 0 and 300 <= lit.json()["night_w"] <= 500  # street lights explained
    listed = api.get("/api/v1/balances", params={"day": DAY.isoformat(), "flagged": "true"}).json()
    assert [i["subject"] for i in listed["items"]] == [hooked]
    every = api.get("/api/v1/balances", params={"day": DAY.isoformat()}).json()["items"]
    assert every[0]["subject"] == hooked and len(every) == len(ec.transformers)


def test_a_feeder_and_an_area_add_up_their_transformers(
    city: tuple[Platform, EnergyCity], make_client: MakeClient
) -> None:
    p, ec = city
    api = make_client(p)
    day = {"day": DAY.isoformat()}
    area = ec.transformers[0].area
    mine = [d for d in ec.transformers if d.area == area]
    parts = [api.get(f"/api/v1/transformers/{d.transformer}/balance", params=day).json() for d in mine]
    whole = api.get(f"/api/v1/areas/{area}/balance", params=day).json()
    assert whole["transformers"] == len(mine) and whole["intervals"] is None
    for field in ("supplied_kwh", "billed_kwh", "loss_kwh"):
        assert Decimal(whole[field]) == sum(Decimal(x[field]) for x in parts)
    feeder = api.get(f"/api/v1/feeders/{mine[0].feeder}/balance", params=day).json()
    assert feeder["level"] == "feeder" and feeder["transformers"] >= 1
    levels = api.get("/api/v1/balances", params={**day, "level": "area"}).json()["items"]
    assert sorted(i["subject"] for i in levels) == sorted({d.area for d in ec.transformers})


def test_a_day_without_a_balance_is_404_with_its_reason(
    city: tuple[Platform, EnergyCity], make_client: MakeClient
) -> None:
    p, ec = city
    api = make_client(p)
    r = api.get(f"/api/v1/transformers/{ec.transformers[0].transformer}/balance", params={"day": "2026-10-01"})
    assert r.status_code == 404 and "no balance" in r.json()["detail"]
    assert api.get("/api/v1/transformers/XX-NOPE/balance", params={"day": "2026-11-03"}).status_code == 404
    assert api.get("/api/v1/balances", params={"level": "pole"}).status_code == 422


def test_anomalies_are_listed_ranked_with_their_reasons_and_filtered(
    city: tuple[Platform, EnergyCity], make_client: MakeClient
) -> None:
    p, ec = city
    api = make_client(p)
    silent = ec.on(ec.transformers[2].transformer)[5].meter_id
    r = api.get("/api/v1/anomalies", params={"day": DAY.isoformat()})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert (items[0]["meter_id"], items[0]["kind"]) == (silent, "flat_zero")
    assert items[0]["reason_en"] and items[0]["reason_hi"] and 0 < items[0]["score"] <= 1
    none = api.get("/api/v1/anomalies", params={"day": DAY.isoformat(), "area": "Nowhere"}).json()["items"]
    assert none == []
    assert api.get("/api/v1/anomalies", params={"kind": "meteor"}).status_code == 422
    assert api.get("/api/v1/anomalies", params={"min_score": "2"}).status_code == 422
