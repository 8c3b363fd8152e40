"""A consumer's optional e-mail address, where alerts go too: taken by the API and the
onboarding sheet, refused with the reason when it is not an address."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bijli.access.model import Role
from bijli.accounts import sheet
from bijli.accounts.model import Consumer, Refused, check_consumer
from bijli.bootstrap import Platform
from tests.support.sheets import HEADER, sheet_row
from tests.support.sites import commissioned_platform
from tests.web.conftest import MakeClient
from tests.web.test_onboarding_api import CITY, CONSUMER, NOW


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Platform]:
    platform = commissioned_platform(tmp_path, CITY, NOW - timedelta(days=30))
    yield platform
    platform.close()


def test_a_consumer_registers_with_an_email_address(site: Platform, make_client: MakeClient) -> None:
    engineer = make_client(site, now=NOW, role=Role.FIELD_ENGINEER)
    r = engineer.post("/api/v1/consumers", json=CONSUMER | {"email": "asha@example.in"})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "asha@example.in"
    without = engineer.post("/api/v1/consumers", json=CONSUMER | {"consumer_id": "C-1002"})
    assert without.status_code == 201 and without.json()["email"] is None


def test_an_email_that_is_not_an_address_is_refused_and_nothing_changes(
    site: Platform, make_client: MakeClient
) -> None:
    engineer = make_client(site, now=NOW, role=Role.FIELD_ENGINEER)
    r = engineer.post("/api/v1/consumers", json=CONSUMER | {"email": "asha at example"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "email"]
    assert engineer.get("/api/v1/consumers/C-1001").status_code == 404
    with pytest.raises(Refused, match="not an e-mail address"):
        check_consumer(Consumer(consumer_id="C9", name="N", mobile="+919812345678", email="x@y", created_at=NOW))


def test_the_onboarding_sheet_takes_an_email_column() -> None:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=[*HEADER, "email"])
    w.writeheader()
    w.writerow(sheet_row(0) | {"email": "ravi@example.in"})
    w.writerow(sheet_row(1) | {"email": ""})
    rows = list(sheet.read(out.getvalue().splitlines(), NOW).rows())
    emails = [r.consumer.email for r in rows]
    assert emails == ["ravi@example.in", None]
