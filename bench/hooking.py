"""`python -m bench.hooking` (`bijli bench hooking`): the hooking detector on the twin's lossy
network at the theft city's full size, in minutes.

The scenario (theft-city by default) is run by the twin alone (`bijli.fleet`), no broker or
store: every meter's recorded Wh per interval is kept, and whether it could talk at the
interval's end. Then the balance rounds are replayed as the platform would make them, once a
simulated hour, from what it would know then:

- a meter's reading of an interval is in once the meter has been online at an interval's end
  since (a meter offline delivers its backlog when it is back);
- at 05:30 IST VEE estimates the gaps of the last two days older than an hour from the latest
  earlier reading of the same time of day (as `bijli.mdm.vee`'s reference day; nothing where
  there is none), and a reading that comes later replaces its estimate;
- each transformer's days are judged by `bijli.network.model.judge` against its own earlier
  days, as `balance_due` does;
- a flagged transformer opens a hooking case unless it has one, or unless one of its consumers'
  meters had a tamper begin that day (a tamper opens its own case within a round, and
  `find_hooking` then opens none for the day).

The cases are scored by `bijli.fleet.detection.score` against the scenario's ground truth: the
`hooking` figures of `bijli theft evaluate`, and the transformers flagged that were not hooked.
It leaves out what the full run measures beside (tamper cases, outages, the store): the full
figure is `bijli theft evaluate`'s; this one shows the detector at a size the full run reaches
only in hours.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import typer

from bijli.adapters.keyfile import new_site
from bijli.fleet.detection import FoundCase, score
from bijli.fleet.run import run_scenario, twin_for
from bijli.fleet.scenario import ScenarioHooks, load
from bijli.fleet.twin import Outgoing
from bijli.kernel.time import INTERVAL, IST, epoch
from bijli.network.balance import Slot, TransformerDay
from bijli.network.model import USUAL_LOOKBACK_DAYS, judge_day, thresholds
from bijli.prepaid.tariff import builtin_tariffs

PER_DAY = 96
PER_HOUR = 4
VEE_AT = 22
"""05:30 IST, the interval VEE runs at (its round is the 06:00 balance's)."""
NEVER = 10**9
NOT_IN = Slot(supplied_wh=None, supplied_estimated=False, billed_wh=0, billed_estimated_wh=0, reporting=0)
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

app = typer.Typer(add_completion=False)


def metered(scenario_path: Path, meters: int, days: float, seed: int | None) -> tuple[Any, Any, Ints, Any, Any]:
    """The scenario run by the twin alone: its truth facts, the twin, every interval's Wh per
    meter, and whether each meter could talk at each interval's end."""
    scenario = load(scenario_path, meters=meters, days=days)
    if seed is not None:
        scenario = replace(scenario, seed=seed)
    twin = twin_for(scenario, new_site(), builtin_tariffs()["UP-LMV1-DU"], "bench")
    if twin.grid is None:
        raise typer.BadParameter("the scenario has no lossy [network] and no transformer meters")
    rows: list[Ints] = []
    online: list[npt.NDArray[np.bool_]] = []
    grid_meter = twin.grid.meter

    def meter(*args: Any) -> Ints:
        wh: Ints = grid_meter(*args)
        rows.append(wh.copy())
        online.append(twin.online.copy())
        return wh

    twin.grid.meter = meter  # type: ignore[method-assign,assignment]  # records each interval as it is metered

    async def sink(frames: list[Outgoing]) -> None:
        return None

    asyncio.run(run_scenario(scenario, twin, sink, ScenarioHooks()))
    return scenario, twin, np.array(rows), np.array(online), scenario.truth


def replay(scenario: Any, twin: Any, wh: Ints, online: Any) -> list[FoundCase]:
    """The hourly balance rounds and the hooking cases they open (see the module's text)."""
    th = thresholds()
    n_int, _ = wh.shape
    nc = twin.n_consumers
    names = [t.transformer for t in twin.transformers]
    places = {t.transformer: (t.feeder, t.area) for t in twin.transformers}
    nt = len(names)
    # When each meter's reading of each interval is in: the first interval end it could talk at.
    delivered = np.full(wh.shape, NEVER, dtype=np.int64)
    following = np.full(wh.shape[1], NEVER, dtype=np.int64)
    for i in range(n_int - 1, -1, -1):
        following = np.where(online[i], i, following)
        delivered[i] = following
    of_dt = twin.dt_index[:nc] - nc
    consumers = np.bincount(of_dt, minlength=nt)
    onto = np.zeros((nc, nt))
    onto[np.arange(nc), of_dt] = 1.0
    tamper_starts: dict[str, list[int]] = {}
    begin = scenario.begin
    for f in scenario.truth:
        if f.get("kind") == "tamper":
            at = datetime.fromisoformat(f["start"])
            transformer = str(twin.transformer_of[twin.index[f["meter_id"]]])
            tamper_starts.setdefault(transformer, []).append(int((at - begin) / INTERVAL))
    estimate = np.zeros((n_int, nc))
    estimated = np.zeros((n_int, nc), dtype=np.bool_)
    stored: dict[tuple[int, int], tuple[TransformerDay, bool]] = {}
    seen: dict[tuple[int, int], bytes] = {}
    cases: list[FoundCase] = []
    open_on: set[str] = set()
    for n in range(PER_HOUR, n_int + 1, PER_HOUR):  # n intervals have ended
        if n % PER_DAY == VEE_AT + 2:
            _vee(wh[:, :nc], delivered[:, :nc], estimate, estimated, n)
        today = (n - 1) // PER_DAY
        lo = max(0, today - USUAL_LOOKBACK_DAYS) * PER_DAY
        got = delivered[lo:n, :nc] < n
        est = estimated[lo:n] & ~got
        billed = (wh[lo:n, :nc] * got + estimate[lo:n] * est) @ onto
        billed_est = (estimate[lo:n] * est) @ onto
        reporting = (got | est).astype(float) @ onto
        est_n = est.astype(float) @ onto
        est_zero = (est & (estimate[lo:n] == 0)).astype(float) @ onto
        dt_in = delivered[lo:n, nc:] < n
        for d in range(lo // PER_DAY, today + 1):
            a, b = d * PER_DAY - lo, min(n, (d + 1) * PER_DAY) - lo
            for j in range(nt):
                key = (j, d)
                mark = b"".join(x[a:b, j].tobytes() for x in (dt_in, billed, reporting, est_n, est_zero))
                if seen.get(key) == mark:
                    continue  # nothing came in for the day: its balance is not worked out again
                seen[key] = mark
                slots = [
                    Slot(
                        supplied_wh=int(wh[lo + a + t, nc + j]) if dt_in[a + t, j] else None,
                        supplied_estimated=False,
                        billed_wh=round(billed[a + t, j]),
                        billed_estimated_wh=round(billed_est[a + t, j]),
                        reporting=round(reporting[a + t, j]),
                        estimated=round(est_n[a + t, j]),
                        estimated_zero=round(est_zero[a + t, j]),
                    )
                    for t in range(b - a)
                ]
                slots += [
                    Slot(supplied_wh=None, supplied_estimated=False, billed_wh=0, billed_estimated_wh=0, reporting=0)
                ] * (PER_DAY - len(slots))
                td = TransformerDay(
                    transformer=names[j],
                    feeder=places[names[j]][0],
                    area=places[names[j]][1],
                    day=(begin + timedelta(days=d)).astimezone(IST).date(),
                    consumers=int(consumers[j]),
                    slots=tuple(slots),
                )
                earlier = [stored[j, k] for k in range(max(0, d - USUAL_LOOKBACK_DAYS), d) if (j, k) in stored]
                judged = judge_day(td, earlier, th)
                stored[key] = (td, judged.flagged)
                tampered = any(d * PER_DAY <= i < min(n, (d + 1) * PER_DAY) for i in tamper_starts.get(names[j], []))
                if judged.flagged and names[j] not in open_on and not tampered:
                    open_on.add(names[j])
                    at = begin + n * INTERVAL
                    cases.append(
                        FoundCase(
                            kind="hooking", subject_level="transformer", subject_id=names[j], opened_at=at.timestamp()
                        )
                    )
    return cases


def _vee(wh: Ints, delivered: Ints, estimate: Floats, estimated: Any, n: int) -> None:
    """VEE at 05:30 IST (`n` intervals ended): each gap of the last two days older than an hour
    takes the latest earlier reading in of the same time of day, or 0 where there is none."""
    last = n - 2 - PER_HOUR  # 05:30 less an hour's grace
    first = max(0, last - 2 * PER_DAY)
    for i in range(first, last):
        gap = (delivered[i] >= n) & ~estimated[i]
        if not gap.any():
            continue
        reference = np.zeros(wh.shape[1])
        found = np.zeros(wh.shape[1], dtype=np.bool_)
        for k in range(i - PER_DAY, -1, -PER_DAY):
            take = ~found & (delivered[k] < n)
            reference = np.where(take, wh[k], reference)
            found |= take
        estimate[i] = np.where(gap, reference, estimate[i])
        estimated[i] |= gap


@app.command()
def main(
    scenario: Annotated[Path, typer.Option(help="The scenario (TOML).")] = Path("scenarios/theft-city.toml"),
    meters: Annotated[int, typer.Option(min=100, help="Consumer meters, instead of the file's.")] = 24_000,
    days: Annotated[float, typer.Option(min=1.0, help="Simulated days, instead of the file's.")] = 4.0,
    seed: Annotated[
        int | None,
        typer.Option(help="The twin's seed (city, loads, network), instead of the file's; the events stay the file's."),
    ] = None,
) -> None:
    """The hooking detector replayed on the twin's lossy network; one JSON line."""
    wall = time.perf_counter()
    sc, twin, wh, online, truth = metered(scenario, meters, days, seed)
    twin_s = time.perf_counter() - wall
    cases = replay(sc, twin, wh, online)
    end = float(epoch(sc.begin + sc.intervals * INTERVAL))
    figures = score(truth, cases, [], end)["hooking"]
    hooked = {f["transformer"] for f in truth if f.get("kind") == "hooking"}
    print(
        json.dumps(
            {
                "scenario": sc.name,
                "meters": sc.meters,
                "transformers": len(twin.transformers),
                "days": sc.days,
                "seed": sc.seed,
                "hooking": figures,
                "flagged_not_hooked": sorted(c.subject_id for c in cases if c.subject_id not in hooked),
                "missed": sorted(t for t in hooked if t not in {c.subject_id for c in cases}),
                "twin_s": round(twin_s, 1),
                "wall_s": round(time.perf_counter() - wall, 1),
            }
        )
    )


if __name__ == "__main__":
    app()
