"""Quality flags by name: what the API and the edit log show for a flagged interval."""

from __future__ import annotations

from bijli.mdm.vee import FLAG_NAMES, Flag, flag_names


def test_every_flag_has_one_name_of_its_own() -> None:
    assert set(FLAG_NAMES) == set(Flag)
    assert len(set(FLAG_NAMES.values())) == len(Flag)


def test_a_reading_shows_each_flag_it_carries_and_no_other() -> None:
    assert flag_names(Flag.SPIKE | Flag.CLOCK) == ["spike", "clock-behind"]
    assert flag_names(Flag.ESTIMATED_PROFILE) == ["estimated-profile"]
    assert flag_names(0) == []
