"""What a transformer's losses are made of, fitted from its own day of intervals (pure).

Per interval the loss (energy in less energy billed) is modelled as

    loss = constant + k * energy in + r * (energy in)^2 + evening * [dusk-24:00] + morning * [0:00-dawn]

the constant being the no-load part and anything else drawn all day (a hook), `k` the meters'
errors within their class, `r` the I²R part that grows with the square of the load, and the
night's two halves street lights on a schedule (legitimate unmetered load, as much after
midnight as before it); an evening drawing more than the morning draws load street lights do
not explain (a hook for the evening). The fit is a
score's input, not an energy total: floats are fine here; the balance itself stays in Wh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from bijli.kernel.time import INTERVALS_PER_DAY
from bijli.network.balance import Slot

HOURS_PER_INTERVAL = 0.25
NIGHT = (time(18, 0), time(6, 0))
"""Street lights burn from dusk to dawn, IST."""


def is_night(slot: int, night: tuple[time, time] = NIGHT) -> bool:
    """Whether the IST day's interval number `slot` (0 = 00:00-00:15) falls in the night."""
    minute = slot * 15
    on, off = night[0].hour * 60 + night[0].minute, night[1].hour * 60 + night[1].minute
    return minute >= on or minute < off if on > off else on <= minute < off


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    """A day's loss of one transformer split into its parts (watts, and per-interval residuals)."""

    constant_w: float
    """No-load loss plus anything drawn around the clock without a meter."""
    night_w: float
    """Extra drawn all night, dusk to dawn (street lights)."""
    evening_w: float
    """Extra drawn in the evening beyond the night's level (a hook for the evening)."""
    proportional: float
    """Share of the energy in lost in proportion to it (meter errors)."""
    quadratic: float
    """Wh lost per (Wh in)² in an interval (the I²R part)."""
    points: int
    residual_wh: tuple[float | None, ...]
    """Per interval: loss not explained by the technical parts and the street lights (the
    constant and the evening beyond the night left in); None where the meter did not read."""


def _solve(a: list[list[float]], b: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting; None if singular."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(slots: Sequence[Slot], night: tuple[time, time] = NIGHT) -> Fit | None:
    """The least-squares split of the day's per-interval losses; None with too few intervals
    to tell the parts apart (fewer than 12 read by the transformer's meter).

    The night is fitted as two terms, its evening (from dusk to midnight) and its morning (from
    midnight to dawn): street lights burn through both alike, so the morning's level is theirs
    (`night_w`) and what the evening draws beyond it (`evening_w`) is not explained by them."""
    rows: list[tuple[int, float, float]] = []
    for i, s in enumerate(slots[:INTERVALS_PER_DAY]):
        if s.supplied_wh is not None:
            rows.append((i, float(s.supplied_wh), float(s.supplied_wh - s.billed_wh)))
    if len(rows) < 12:
        return None
    scale = max(1.0, max(abs(x) for _, x, _ in rows))  # keeps the normal equations well scaled
    half = INTERVALS_PER_DAY // 2
    evenings = [1.0 if is_night(i, night) and i >= half else 0.0 for i, _, _ in rows]
    mornings = [1.0 if is_night(i, night) and i < half else 0.0 for i, _, _ in rows]
    terms = [t for t in (evenings, mornings) if 0 < sum(t) < len(rows)]
    features = [[1.0, x / scale, (x / scale) ** 2, *(t[n] for t in terms)] for n, (_, x, _) in enumerate(rows)]
    k = len(features[0])
    ata = [[sum(f[i] * f[j] for f in features) for j in range(k)] for i in range(k)]
    for i in range(1, k):
        ata[i][i] += 1e-9 * len(rows)  # a whisper of ridge: a flat day still solves
    aty = [sum(f[i] * y for f, (_, _, y) in zip(features, rows, strict=True)) for i in range(k)]
    coef = _solve(ata, aty)
    if coef is None:
        return None
    const, lin, quad = coef[0], coef[1], coef[2]
    named = dict(zip([id(t) for t in terms], coef[3:], strict=True))
    evening_wh, morning_wh = named.get(id(evenings)), named.get(id(mornings))
    # Street lights: the morning's level (or the evening's, when the day has no morning).
    lights = morning_wh if morning_wh is not None else (evening_wh or 0.0)
    beyond = 0.0 if evening_wh is None or morning_wh is None else evening_wh - morning_wh
    by_slot: dict[int, float] = {}
    for n, (i, x, y) in enumerate(rows):
        technical = lin * (x / scale) + quad * (x / scale) ** 2 + lights * (evenings[n] + mornings[n])
        by_slot[i] = y - technical
    return Fit(
        constant_w=const / HOURS_PER_INTERVAL,
        night_w=lights / HOURS_PER_INTERVAL,
        evening_w=beyond / HOURS_PER_INTERVAL,
        proportional=lin / scale,
        quadratic=quad / scale**2,
        points=len(rows),
        residual_wh=tuple(by_slot.get(i) for i in range(min(len(slots), INTERVALS_PER_DAY))),
    )
