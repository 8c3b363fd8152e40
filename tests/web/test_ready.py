"""The dashboard's and the control room's kept figures worked out ahead of the views
(`bijli.web.ready`): a view after the round reads them kept instead of working them out."""

from __future__ import annotations

from datetime import timedelta

from bijli.bootstrap import Platform
from tests.web.conftest import LAST_SEEN, MakeClient
from tests.web.test_limits import statements

FIRST_VIEWS = (
    "/operations",
    "/operations/fleet",
    "/operations/fleet?by=feeder",
    "/operations/fleet?by=transformer&sort=online",
    "/operations/cases",
    "/operations/disputes",
    "/operations/meters?sort=last_seen&desc=1",
)


def test_the_first_views_after_the_ready_round_read_its_figures_kept(
    platform: Platform, make_client: MakeClient
) -> None:
    api = make_client(platform, LAST_SEEN + timedelta(hours=5))  # a clock of its own: nothing kept for it yet
    with statements(platform) as worked_out:
        api.app.state.keep_ready()  # type: ignore[attr-defined]
    with statements(platform) as viewed:
        assert [api.get(page).status_code for page in FIRST_VIEWS] == [200] * len(FIRST_VIEWS)

    fleet_wide = {s for s in worked_out if "GROUP BY" in s or "count(*)" in s or "ORDER BY meter_state" in s}
    assert len(fleet_wide) >= 6  # fleet counts, silent meters, collection, exception counts, groups, sorts
    assert fleet_wide.isdisjoint(viewed)


def test_without_the_round_the_first_view_works_its_figures_out(platform: Platform, make_client: MakeClient) -> None:
    api = make_client(platform, LAST_SEEN + timedelta(hours=6))
    with statements(platform) as viewed:
        assert api.get("/operations/fleet?by=feeder").status_code == 200
    assert any("GROUP BY" in s and "energy_days" in s for s in viewed)


def test_each_round_works_its_figures_out_anew_for_the_half_minute_to_come(
    platform: Platform, make_client: MakeClient
) -> None:
    api = make_client(platform, LAST_SEEN + timedelta(hours=7))
    api.app.state.keep_ready()  # type: ignore[attr-defined]
    with statements(platform) as again:
        api.app.state.keep_ready()  # type: ignore[attr-defined]
    assert any("GROUP BY" in s and "energy_days" in s for s in again)
