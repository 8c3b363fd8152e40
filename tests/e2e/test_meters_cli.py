"""`bijli meters …`: an operator takes a meter out of service, puts it back, and reads its history."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bijli.bootstrap import Platform
from bijli.entrypoints.cli import app
from tests.support.cli import bijli_said, runner
from tests.support.commands import ask

METER = "KNCL0000001"


def meters(*args: str) -> tuple[int, str]:
    """Run `bijli meters …` in a wide terminal: its exit code and everything it wrote, on one line."""
    return bijli_said("meters", *args, columns=160)


def test_decommission_then_recommission_and_the_history_tells_who_and_why(store: list[str]) -> None:
    code, said = meters("decommission", METER, "--by", "operator.verma", "--reason", "consumer moved out", *store)
    assert code == 0, said
    assert said == f"meter {METER}: commissioned → decommissioned by operator.verma (consumer moved out)"

    code, said = meters("recommission", METER, "--by", "engineer.khan", "--reason", "new consumer", *store)
    assert code == 0, said
    assert "decommissioned → commissioned by engineer.khan (new consumer)" in said

    out = runner.invoke(app, ["meters", "history", METER, "--json", *store])
    assert out.exit_code == 0, out.output
    history = json.loads(out.stdout)
    assert (history["meter_id"], history["status"]) == (METER, "commissioned")
    assert [(i["from_status"], i["to_status"], i["changed_by"], i["reason"]) for i in history["items"]] == [
        ("decommissioned", "commissioned", "engineer.khan", "new consumer"),
        ("commissioned", "decommissioned", "operator.verma", "consumer moved out"),
    ]
    assert datetime.fromisoformat(history["items"][0]["at"]) >= datetime.fromisoformat(history["items"][1]["at"])

    code, said = meters("history", METER, *store)
    assert code == 0
    assert said.startswith(f"meter {METER} is commissioned")
    rows = said.split("┃")[-1]  # past the header
    assert rows.index("engineer.khan") < rows.index("operator.verma")  # newest first
    assert "decommissioned commissioned engineer.khan new consumer" in rows


def test_a_meter_never_changed_says_so(store: list[str]) -> None:
    assert meters("history", METER, *store) == (
        0,
        f"meter {METER} is commissioned no status changes since it was registered",
    )


def test_decommissioning_says_how_many_open_commands_it_ended(platform: Platform, store: list[str]) -> None:
    ask(platform.store, METER, "relay_disconnect", datetime.now(UTC))

    code, said = meters("decommission", METER, "--by", "operator.verma", "--reason", "meter burnt", *store)

    assert code == 0
    assert said.endswith("; 1 unsettled command(s) failed")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["decommission", "KNXX9999999", "--by", "op", "--reason", "why"], "meter KNXX9999999 is not registered"),
        (["recommission", METER, "--by", "op", "--reason", "why"], f"meter {METER} is already commissioned"),
        (["history", "KNXX9999999"], "meter KNXX9999999 is not registered"),
    ],
)
def test_an_unknown_meter_or_a_refused_change_exits_1_with_the_reason(
    store: list[str], args: list[str], message: str
) -> None:
    code, said = meters(*args, *store)
    assert (code, said) == (1, message)
    assert meters("history", METER, "--json", *store)[1].endswith('"items": []}')


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "op"], "Missing option '--reason'"),
        (["--reason", "why"], "Missing option '--by'"),
        (["--by", "op", "--reason", " "], "needs a reason"),
        (["--by", "", "--reason", "why"], "must be named"),
    ],
)
def test_a_change_without_who_or_why_exits_2(store: list[str], args: list[str], message: str) -> None:
    code, said = meters("decommission", METER, *args, *store)
    assert code == 2
    assert message in said
    assert meters("history", METER, "--json", *store)[1].endswith('"items": []}')
