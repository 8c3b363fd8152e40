"""`bijli access staff …`: field staff recorded with their areas, mobile, e-mail and language,
changed, and listed; a detail that is not right is refused and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bijli import settings
from bijli.access.handlers import staff_members
from bijli.bootstrap import Platform, bootstrap
from tests.support.cli import bijli_said

PASSWORD = "a long enough password 42\n"


@pytest.fixture
def platform(database_url: str | None, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.delenv("BIJLI_DATABASE_URL", raising=False)
    p = bootstrap(settings.build(data_dir=data_dir, database_url=database_url, broker_url="none", new_site=True))
    yield p
    p.store.dispose()


def staff(*args: str, stdin: str | None = None) -> tuple[int, str]:
    return bijli_said("access", "staff", *args, stdin=stdin)


def test_field_staff_get_areas_a_mobile_an_email_and_a_language(platform: Platform, store: list[str]) -> None:
    code, said = staff(
        "add", "fe-ravi", "--role", "field_engineer", "--area", "Civil Lines", "--area", "Mall Road",
        "--mobile", "98123 45678", "--email", "ravi@kesco.example", "--language", "hi", "--password-stdin", *store,
        stdin=PASSWORD,
    )  # fmt: skip
    assert code == 0, said
    assert said == (
        "staff member fe-ravi added as field_engineer in Civil Lines, Mall Road, +919812345678, ravi@kesco.example, hi"
    )
    code, said = staff("set", "fe-ravi", "--area", "Civil Lines", "--email", "", "--language", "en", *store)
    assert code == 0, said
    assert said == "staff member fe-ravi is field_engineer in Civil Lines, +919812345678, en"
    code, said = staff("list", *store)
    assert code == 0 and "fe-ravi field_engineer Civil Lines +919812345678 — en" in said, said
    (member,) = staff_members(platform.store)
    assert (member.areas, member.mobile, member.email, member.language) == (
        ("Civil Lines",),
        "+919812345678",
        None,
        "en",
    )
    assert member.created_at <= datetime.now(UTC)


def test_a_wrong_detail_is_refused_and_changes_nothing(platform: Platform, store: list[str]) -> None:
    assert staff("add", "fe-mall", "--role", "field_engineer", "--password-stdin", *store, stdin=PASSWORD)[0] == 0
    for wrong, why in (
        (["--mobile", "12345"], "not a mobile number"),
        (["--email", "ravi-at-kesco"], "not an e-mail address"),
        (["--language", "fr"], "a language is one of hi, en"),
        (["--area", " "], "an area is 1 to 64"),
    ):
        code, said = staff("set", "fe-mall", *wrong, *store)
        assert code == 1 and why in said, said
    code, said = staff("set", "nobody", "--mobile", "9812345678", *store)
    assert code == 1 and "no staff member called nobody" in said
    code, said = staff(
        "add", "fe-new", "--role", "field_engineer", "--mobile", "1", "--password-stdin", *store, stdin=PASSWORD
    )
    assert code == 1 and "not a mobile number" in said
    assert [(m.username, m.areas, m.mobile, m.language) for m in staff_members(platform.store)] == [
        ("fe-mall", (), None, "en")
    ]
