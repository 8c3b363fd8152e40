"""The figures the dashboard and the control room keep, worked out ahead of the views.

Each is one pass over the fleet (the fleet counts, the exception views' counts, the groups by
area, feeder and transformer, the collection report's day, the silent meters, the whole fleet's
list sorted by last seen, signal or failovers) or over the
ledger (its total, recounted every five minutes), kept half a minute (`ControlReads.kept_s`).
Asked by a view, the view that finds one run out waits for it; `keep_ready` works them out
first instead: once before `bijli serve` listens (`create_app(warm=True)`) and then by a round
of its own at the start of every half minute (`bijli.entrypoints.serve.ready_every`), so views
read them kept.
"""

from __future__ import annotations

from datetime import date, timedelta

from bijli.adapters.db.control import STATE_SORTS
from bijli.adapters.db.control_rows import LEVELS, MeterFilter
from bijli.kernel.time import ist_day
from bijli.web.context import WebContext

SILENT_FOR = timedelta(hours=24)
"""The dashboard counts meters silent this long (the non-communicating report's default)."""
STUCK_AFTER = timedelta(hours=1)
"""A command still open this long after it was asked is listed as stuck."""
RECOUNT_AHEAD_S = 60.0
"""The round recounts the ledger's total when its recount is due within this long, before a view finds it due."""


def dashboard_day(ctx: WebContext, asked: date | None) -> tuple[date, date | None]:
    """The day the dashboard shows its collection report for: the one asked, else yesterday,
    else (a store of old data) the newest day before today with readings, which is then also
    returned for the page to say so."""
    today = ist_day(ctx.clock.now())
    yesterday = today - timedelta(days=1)
    if asked is not None:
        return asked, None
    if ctx.reads.control.has_day(yesterday):
        return yesterday, None
    newest = ctx.reads.control.newest_day(before=today)
    return newest or yesterday, newest


def keep_ready(ctx: WebContext) -> None:
    """Work out now what the dashboard's and the control room's first views read."""
    now, online_since = ctx.clock.now(), ctx.online_since()
    reads, control = ctx.reads, ctx.reads.control
    reads.ledger_total.paise(ahead_s=RECOUNT_AHEAD_S)
    reads.silent(now, SILENT_FOR)
    reads.collection(dashboard_day(ctx, None)[0], fresh=True)
    with control.refreshing():  # worked out anew, even if a view did a moment ago: kept a whole half minute from now
        reads.fleet(online_since)
        control.exceptions(now, online_since, STUCK_AFTER)
        control.places()
        newest = control.newest_day()
        for level in LEVELS:
            control.groups(level, newest or ist_day(now), online_since)
        for sort in sorted(STATE_SORTS):  # the whole fleet's list by its live state, either way round
            for descending in (False, True):
                control.meters(MeterFilter(), now, online_since, sort=sort, descending=descending, limit=1)
