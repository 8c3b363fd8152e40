"""Who gets in: anonymous requests, the login page, sessions, CSRF, and a consumer kept to their own meter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi import Depends

from bijli.access.model import Role
from bijli.bootstrap import Platform
from bijli.fleet.city import build_city
from bijli.web.app import create_app
from bijli.web.auth import CSRF_HEADER, SESSION_COOKIE, Auth, secure
from bijli.web.context import WebContext
from tests.support.access import PASSWORD, form_token, log_in_staff
from tests.web.conftest import DEMO_METERS, SMS, MakeClient

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

CITY = build_city(DEMO_METERS)
DAY = {"start": "2026-11-02T00:00+05:30", "end": "2026-11-03T00:00+05:30"}


@pytest.fixture
def anonymous(platform: Platform, make_client: MakeClient) -> TestClient:
    return make_client(platform, role=None)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/meters", f"/api/v1/meters/{CITY[0].meter_id}", "/api/v1/reports/collection", "/openapi.json"],
)
def test_anonymous_api_requests_get_401_in_json(anonymous: TestClient, path: str) -> None:
    r = anonymous.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "not signed in" in r.json()["detail"]


def test_anonymous_pages_lead_to_the_login_page_and_back(anonymous: TestClient) -> None:
    r = anonymous.get(f"/consumer/{CITY[0].meter_id}?day=2026-11-02", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Fconsumer%2F{CITY[0].meter_id}%3Fday%3D2026-11-02"
    page = anonymous.get(r.headers["location"])
    assert page.status_code == 200
    assert "<title>Log in · bijli</title>" in page.text and "लॉग इन" not in page.text  # one language at a time
    assert 'lang="hi" data-testid="switch-language">हिन्दी</a>' in page.text  # and the way to the other
    assert f'name="next" value="/consumer/{CITY[0].meter_id}?day=2026-11-02"' in page.text


def test_only_health_and_login_answer_anonymously(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v1/health").status_code == 200
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/bijli.css").status_code == 200


def test_a_bad_or_revoked_token_is_401(anonymous: TestClient) -> None:
    for header in ("Bearer bijli_nonsense", "Basic dXNlcjpwYXNz", "Bearer "):
        assert anonymous.get("/api/v1/meters", headers={"Authorization": header}).status_code == 401


def test_staff_log_in_with_a_session_cookie_that_scripts_and_other_sites_never_see(
    platform: Platform, anonymous: TestClient
) -> None:
    log_in_staff(anonymous, platform, "verma", Role.AUDITOR)
    cookie = next(c for c in anonymous.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "strict"
    assert not cookie.secure  # plain http in the test; over https (or --secure-cookies) it is Secure
    assert anonymous.get("/api/v1/meters").status_code == 200

    # An unsafe request without the session's form token is refused: another site cannot forge one.
    del anonymous.headers[CSRF_HEADER]
    r = anonymous.post(f"/api/v1/meters/{CITY[0].meter_id}/commands", json={"action": "read_now", "reason": "x"})
    assert r.status_code == 403 and CSRF_HEADER in r.json()["detail"]


def test_cookies_are_secure_over_https(platform: Platform, make_client: MakeClient) -> None:
    client = make_client(platform, role=None)
    client.base_url = client.base_url.copy_with(scheme="https")
    login = client.get("/login")
    assert "secure" in login.headers["set-cookie"].lower()
    r = client.post(
        "/login/staff",
        data={"username": "nobody", "password": "x", "csrf": form_token(login.text)},
        follow_redirects=False,
    )
    assert r.status_code == 401


def test_a_login_form_without_its_token_is_refused(anonymous: TestClient) -> None:
    r = anonymous.post("/login/staff", data={"username": "a", "password": "b", "csrf": "forged"})
    assert r.status_code == 403
    assert "The form had expired" in r.text


def test_wrong_passwords_lock_the_name_with_a_message_in_both_languages(
    platform: Platform, anonymous: TestClient
) -> None:
    log_in_staff(anonymous, platform, "khan", Role.BILLING)
    anonymous.cookies.clear()
    csrf = form_token(anonymous.get("/login").text)
    codes = [
        anonymous.post("/login/staff", data={"username": "khan", "password": f"x{n}", "csrf": csrf}).status_code
        for n in range(5)
    ]
    assert codes == [401] * 5
    r = anonymous.post("/login/staff", data={"username": "khan", "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 429
    assert "Too many attempts" in r.text
    hindi = anonymous.post("/login/staff?lang=hi", data={"username": "khan", "password": PASSWORD, "csrf": csrf})
    assert hindi.status_code == 429 and "बहुत अधिक प्रयास" in hindi.text


def test_logout_ends_the_session(platform: Platform, anonymous: TestClient) -> None:
    log_in_staff(anonymous, platform, "gupta", Role.OPERATOR)
    key = anonymous.cookies[SESSION_COOKIE]
    page = anonymous.get("/operations").text
    r = anonymous.post("/logout", data={"csrf": form_token(page)}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    anonymous.cookies.set(SESSION_COOKIE, key)  # the old key is no good now
    assert anonymous.get("/api/v1/meters").status_code == 401


def log_in_consumer(client: TestClient, mobile: str) -> None:
    csrf = form_token(client.get("/login").text)
    sent = client.post("/login/code", data={"mobile": mobile, "csrf": csrf})
    assert sent.status_code == 200 and "a code is on its way" in sent.text
    r = client.post(
        "/login/consumer", data={"mobile": mobile, "code": SMS.last_code(mobile), "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def test_consumer_a_never_reaches_consumer_bs_data(anonymous: TestClient) -> None:
    a, b = CITY[0], CITY[1]
    log_in_consumer(anonymous, a.mobile)

    assert anonymous.get("/", follow_redirects=False).headers["location"] == f"/consumer/{a.meter_id}"
    assert anonymous.get(f"/api/v1/meters/{a.meter_id}").json()["consumer_name"] == a.consumer_name
    assert anonymous.get(f"/api/v1/meters/{a.meter_id}/balance").status_code == 200
    assert a.consumer_name in anonymous.get(f"/consumer/{a.meter_id}").text
    for path in (
        f"/api/v1/meters/{b.meter_id}",
        f"/api/v1/meters/{b.meter_id}/balance",
        f"/api/v1/meters/{b.meter_id}/readings?start={DAY['start']}&end={DAY['end']}".replace("+", "%2B"),
        f"/api/v1/meters/{b.meter_id}/edits?start={DAY['start']}&end={DAY['end']}".replace("+", "%2B"),
        f"/consumer/{b.meter_id}",
    ):
        r = anonymous.get(path)
        assert r.status_code == 404, path
        assert b.consumer_name not in r.text
    for path in (
        "/api/v1/meters",
        "/operations",
        f"/api/v1/meters/{a.meter_id}/commands",
        "/api/v1/usage?day=2026-11-02",
    ):
        assert anonymous.get(path).status_code == 403, path


def test_the_app_refuses_to_start_with_a_route_that_declares_no_permission(platform: Platform) -> None:
    app = create_app(platform)

    @app.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="routes without a declared permission: GET /api/v1/forgotten"):
        secure(app)

    @app.get("/api/v1/declared", dependencies=[Depends(Auth(WebContext(platform=platform, clock=None)).public())])  # type: ignore[arg-type]
    def declared() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError) as refused:
        secure(app)
    assert "/api/v1/declared" not in str(refused.value)
