"""The onboarding API as a field engineer and a billing clerk use it: a consumer registered, a
meter installed, replaced, the account closed; each refusal a clear 4xx that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient, TestClient

NOW = datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
CITY = build_city(2)
CONSUMER = {"consumer_id": "C-1001", "name": "Asha Verma", "mobile": "098123 45678", "language": "en"}
METER = {
    "account_id": "KESCONW0000001",
    "consumer_id": "C-1001",
    "meter_id": "KNNW0000001",
    "area": "Civil Lines",
    "feeder": "CL-F09",
    "transformer": "CL-F09-DT01",
    "phase": 1,
    "tariff_category": "UP-LMV1-DU",
    "sanctioned_load_kw": "2",
    "installed_at": "2026-11-10T11:00:00+05:30",
    "opening_register_kwh": "12.345",
    "opening_balance": "500",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Platform]:
    platform = commissioned_platform(tmp_path, CITY, NOW - timedelta(days=30))
    yield platform
    platform.close()


@pytest.fixture
def engineer(site: Platform, make_client: MakeClient) -> TestClient:
    return make_client(site, now=NOW, role=Role.FIELD_ENGINEER)


@pytest.fixture
def billing(site: Platform, make_client: MakeClient) -> TestClient:
    return make_client(site, now=NOW, role=Role.BILLING)


def seen(client: TestClient, account_id: str) -> Any:
    return client.get(f"/api/v1/accounts/{account_id}").json()


def test_a_field_engineer_registers_a_consumer_and_installs_their_meter(engineer: TestClient) -> None:
    made = engineer.post("/api/v1/consumers", json=CONSUMER)
    installed = engineer.post("/api/v1/meters", json=METER)
    again = engineer.post("/api/v1/meters", json=METER)

    assert made.status_code == 201, made.text
    assert made.json()["mobile"] == "+919812345678"
    assert installed.status_code == 201, installed.text
    body = installed.json()
    assert (body["status"], body["meter_id"], body["tariff_category"], body["sanctioned_load_kw"]) == (
        "active",
        "KNNW0000001",
        "UP-LMV1-DU",
        "2.000",
    )
    assert [(i["meter_id"], i["installed_at"], i["opening_register_kwh"]) for i in body["installations"]] == [
        ("KNNW0000001", "2026-11-10T05:30:00Z", "12.345")
    ]
    assert (again.status_code, again.json()) == (200, body)
    assert engineer.get("/api/v1/meters/KNNW0000001/balance").json()["balance"] == "500.00"
    assert engineer.get("/api/v1/consumers/C-1001").json()["accounts"] == [
        {"account_id": "KESCONW0000001", "status": "active", "meter_id": "KNNW0000001"}
    ]


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"consumer_id": "C-404"}, 404, "consumer C-404 is not registered"),
        ({"meter_id": CITY[0].meter_id}, 409, f"meter {CITY[0].meter_id} is installed on account {CITY[0].account_no}"),
        ({"account_id": CITY[1].account_no, "consumer_id": CITY[1].account_no}, 409, "has meter"),
        ({"tariff_category": "NOPE"}, 422, "tariff category 'NOPE' is not one bijli charges by"),
        ({"installed_at": "2027-01-01T00:00:00+05:30"}, 422, "is in the future"),
    ],
)
def test_a_bad_installation_is_a_clear_4xx_and_changes_nothing(
    engineer: TestClient, change: dict[str, Any], status: int, detail: str
) -> None:
    engineer.post("/api/v1/consumers", json=CONSUMER)
    before = [seen(engineer, a) for a in ("KESCONW0000001", CITY[0].account_no, CITY[1].account_no)]

    r = engineer.post("/api/v1/meters", json={**METER, **change})

    assert r.status_code == status, r.text
    assert detail in r.text
    assert [seen(engineer, a) for a in ("KESCONW0000001", CITY[0].account_no, CITY[1].account_no)] == before


def test_a_consumer_id_taken_and_a_bad_mobile_are_refused(engineer: TestClient) -> None:
    engineer.post("/api/v1/consumers", json=CONSUMER)
    taken = engineer.post("/api/v1/consumers", json={**CONSUMER, "name": "Other"})
    mobile = engineer.post("/api/v1/consumers", json={**CONSUMER, "consumer_id": "C-2", "mobile": "12345"})

    assert (taken.status_code, taken.json()) == (409, {"detail": "consumer C-1001 is registered already"})
    assert mobile.status_code == 422 and "not an Indian mobile number" in mobile.text
    assert engineer.get("/api/v1/consumers/C-2").status_code == 404


def test_a_replaced_meter_hands_its_account_to_the_new_one(engineer: TestClient, site: Platform) -> None:
    old = CITY[0]
    r = engineer.post(
        f"/api/v1/meters/{old.meter_id}/replace",
        json={
            "final_register_kwh": f"{old.initial_register_wh // 1000 + 50}",
            "new_meter_id": "KNNW0000007",
            "opening_register_kwh": "0.004",
            "at": "2026-11-15T10:00:00+05:30",
            "reason": "display dead",
        },
    )

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["new_meter"] == {
        "meter_id": "KNNW0000007",
        "key_version": site.settings.site_keys.current,
        "frame_counter": 0,
    }
    assert body["account"]["meter_id"] == "KNNW0000007"
    assert [(i["meter_id"], i["removed_at"], i["reason"]) for i in body["account"]["installations"]] == [
        (old.meter_id, "2026-11-15T04:30:00Z", "replaced by KNNW0000007: display dead"),
        ("KNNW0000007", None, ""),
    ]
    assert engineer.get(f"/api/v1/meters/{old.meter_id}").json()["status"] == "decommissioned"
    assert engineer.get("/api/v1/meters/KNNW0000007").json()["account_no"] == old.account_no


def test_billing_closes_an_account_with_its_refund_and_it_takes_no_meter_after(
    billing: TestClient, engineer: TestClient
) -> None:
    person = CITY[1]
    body = {"final_register_kwh": f"{person.initial_register_wh // 1000 + 10}", "at": "2026-11-19T12:00:00+05:30"}

    closed = billing.post(f"/api/v1/accounts/{person.account_no}/close", json={**body, "reason": "moved away"})
    again = billing.post(f"/api/v1/accounts/{person.account_no}/close", json={**body, "reason": "moved away"})
    refused = engineer.post(
        "/api/v1/meters", json={**METER, "account_id": person.account_no, "consumer_id": person.account_no}
    )

    assert closed.status_code == 200, closed.text
    statement = closed.json()
    rupees = f"{person.opening_balance_paise // 100}.00"
    assert (statement["balance"], statement["arrears"], statement["refund_due"], statement["arrears_due"]) == (
        rupees,
        "0.00",
        rupees,
        "0.00",
    )
    assert (statement["account"]["status"], statement["account"]["meter_id"]) == ("closed", None)
    assert (again.status_code, again.json()) == (409, {"detail": f"account {person.account_no} is closed already"})
    assert refused.status_code == 409 and "was closed on 19 Nov 2026 12:00 IST" in refused.text
    assert engineer.post(f"/api/v1/accounts/{person.account_no}/close", json=body).status_code == 403
