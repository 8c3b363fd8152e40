"""`bijli meter …`: be the consumer at a running twin's meter: press the hotspot button, type a token."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape

from bijli.kernel.time import IST
from bijli.protocol.topics import METER_ID_PATTERN

if TYPE_CHECKING:
    import httpx

DEFAULT_TWIN_URL = "http://127.0.0.1:8100"
EXIT_REFUSED = 3
"""`redeem`'s exit status when the meter answered but refused the token."""
TIMEOUT_S = 10.0

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="A running meter twin's hotspot: press its button, type a token."
)

MeterId = Annotated[str, typer.Argument(help="The meter, e.g. KNCL0000001.")]
TwinUrl = Annotated[
    str,
    typer.Option("--twin-url", envvar="BIJLI_TWIN_URL", help="Where the twin's hotspot server answers."),
]


@app.callback()
def _group() -> None:
    """A running meter twin's hotspot: press its button, type a token."""


@app.command("press-hotspot")
def press_hotspot(meter_id: MeterId, twin_url: TwinUrl = DEFAULT_TWIN_URL) -> None:
    """Press the meter's hotspot button; prints until when the hotspot takes tokens."""
    _check(meter_id)
    reply = _post(twin_url, f"/meters/{quote(meter_id, safe='')}/button", None)
    body = _expect(reply, twin_url, meter_id)
    until = _moment(body, "open_until", twin_url)
    minutes = int(body.get("window_s", 0)) // 60
    Console(highlight=False, soft_wrap=True).print(
        f"hotspot of [bold]{escape(meter_id)}[/bold] open until "
        f"[bold]{until.astimezone(IST):%H:%M:%S} IST[/bold] ({until.astimezone(IST):%d %b %Y}, {minutes} min)"
    )


@app.command()
def redeem(
    meter_id: MeterId,
    token: Annotated[
        list[str], typer.Argument(help="The 20 digits; groups of four may be separate words, spaces and '-' allowed.")
    ],
    twin_url: TwinUrl = DEFAULT_TWIN_URL,
) -> None:
    """Type a token into the meter's hotspot, as a phone would; prints the meter's answer.

    Exit status: 0 accepted, 3 refused by the meter, 1 hotspot closed or locked, unknown meter or no twin.
    """
    _check(meter_id)
    reply = _post(twin_url, f"/meters/{quote(meter_id, safe='')}/hotspot/token", {"token": " ".join(token)})
    if reply.status_code == 409:
        _fail(f"the hotspot of {meter_id} is closed: press its button first (bijli meter press-hotspot {meter_id})")
    if reply.status_code == 429:
        body = _json(reply, twin_url)
        until = _moment(body, "until", twin_url)
        _fail(
            f"{meter_id} took too many wrong tokens; its token entry is locked until {until.astimezone(IST):%H:%M} IST"
        )
    body = _expect(reply, twin_url, meter_id)
    accepted = body.get("code") == 0
    out = Console(highlight=False, soft_wrap=True)
    colour = "green" if accepted else "red"
    out.print(f"[{colour}]{escape(str(body.get('status')))}[/{colour}] {escape(str(body.get('message', '')))}")
    if body.get("message_hi"):
        out.print(escape(str(body["message_hi"])))
    if not accepted:
        raise typer.Exit(EXIT_REFUSED)


def _check(meter_id: str) -> None:
    if not METER_ID_PATTERN.fullmatch(meter_id):
        raise typer.BadParameter(
            f"{meter_id!r} is not a meter id: upper-case letters, digits and '-', 3 to 32 long", param_hint="METER_ID"
        )


def _post(twin_url: str, path: str, body: dict[str, str] | None) -> httpx.Response:
    """POST to the twin; exit 1 with the reason when it cannot be reached."""
    # Imported here: httpx is needed only by these commands, not by the rest of `bijli`.
    import httpx

    url = twin_url.rstrip("/") + path
    try:
        return httpx.post(url, json=body, timeout=TIMEOUT_S)
    except httpx.HTTPError as e:
        _fail(f"cannot reach the meter twin at {twin_url}: {str(e) or type(e).__name__}")


def _expect(reply: httpx.Response, twin_url: str, meter_id: str) -> dict[str, Any]:
    """The JSON of a 200 answer; exit 1 on an unknown meter or any other answer."""
    if reply.status_code == 404:
        _fail(f"the twin at {twin_url} has no meter {meter_id} with a hotspot")
    if reply.status_code != 200:
        _fail(f"the twin at {twin_url} answered {reply.status_code}: {reply.text[:200]}")
    return _json(reply, twin_url)


def _json(reply: httpx.Response, twin_url: str) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        _fail(f"{twin_url} did not answer like a meter twin: {reply.text[:200]!r}")
    return body


def _moment(body: dict[str, Any], name: str, twin_url: str) -> datetime:
    try:
        return datetime.fromisoformat(str(body[name]))
    except (KeyError, ValueError):
        _fail(f"{twin_url} did not answer like a meter twin: no time in {name!r}")


def _fail(message: str) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)
