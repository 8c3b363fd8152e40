"""`python -m bench.fleet` (`bijli bench fleet`): how fast one process simulates a fleet, frames
built and signed.

The frames are sealed exactly as they would be published, then dropped, so the figure is the
twin's own cost without a broker.
"""

from __future__ import annotations

import gc
import json
import resource
import time
from datetime import date, timedelta
from typing import Annotated

import typer

from bijli.adapters.keyfile import new_site
from bijli.fleet.city import build_city, transformer_meters
from bijli.fleet.twin import FleetTwin, TwinOptions
from bijli.kernel.time import INTERVAL, ist_midnight
from bijli.prepaid.tariff import builtin_tariffs


def run(
    meters: int, days: float, *, intervals: int | None = None, start: date = date(2026, 5, 12)
) -> dict[str, object]:
    """Simulate `days` (or a number of `intervals`) of `meters` consumer meters and their DT meters."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    city = build_city(meters)
    transformers = transformer_meters(city)
    begin = ist_midnight(start)
    twin = FleetTwin(
        city,
        transformers,
        new_site(),
        builtin_tariffs()["UP-LMV1-DU"],
        start=begin,
        first_counter=0,
        options=TwinOptions(history_days=0),
    )
    setup_s = time.perf_counter() - wall0
    rounds = intervals if intervals is not None else round(days * 96)
    frames = 0
    slowest = 0.0
    gc.collect()
    gc.freeze()  # the fleet's long-lived objects need no more collection passes
    for n in range(rounds):
        t = time.perf_counter()
        twin.close_interval(begin + n * INTERVAL)
        frames += len(twin.take_outgoing())
        slowest = max(slowest, time.perf_counter() - t)
    gc.unfreeze()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "meters": meters,
        "days": days if intervals is None else round(rounds / 96, 4),
        "frames": frames,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "transformer_meters": len(transformers),
        "rounds": rounds,
        "setup_s": round(setup_s, 2),
        "slowest_round_s": round(slowest, 2),
        "simulated": str(timedelta(minutes=15 * rounds)),
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    meters: Annotated[int, typer.Option(min=1, help="Consumer meters (their DT meters come too).")] = 24_000,
    days: Annotated[float, typer.Option(min=0.0, help="Simulated days.")] = 1.0,
    intervals: Annotated[int | None, typer.Option(min=1, help="Simulate this many 15-minute rounds instead.")] = None,
) -> None:
    """Simulate a fleet without a broker (frames built and signed, then dropped); one JSON line."""
    print(json.dumps(run(meters, days, intervals=intervals)))


if __name__ == "__main__":
    app()
