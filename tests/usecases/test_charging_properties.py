"""Property: whatever order readings arrive in (late, twice, some never, some estimated first),
with a meter replaced, a tariff changing mid-month, recharges reported more than once, payments
through the gateway's webhook (sent more than once, failed, refunded) and their tokens typed
at the meter (and replayed), days closing at any moment and the platform restarting, every
account's balance is its opening plus its payments less refunds less its charges to the
paisa, and its months' charges are those its readings, installations and tariff make: the
same for every arrival order.

Hypothesis drives the SQLite store (fast); a few fixed plans run on PostgreSQL too."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bijli.accounts import handlers as onboarding
from bijli.accounts.model import AccountTerms, Consumer, Installing, MeterSite, Replacing
from bijli.adapters.db import engine as db
from bijli.adapters.db.store import Store
from bijli.headend.handlers import ingest_batch
from bijli.headend.model import KeyRing
from bijli.headend.ports import Delivery
from bijli.kernel.time import INTERVAL, IST, epoch, ist_midnight
from bijli.mdm.handlers import run_vee, settle_all
from bijli.mdm.meters import MeterStatus
from bijli.payments.handlers import reconcile, take_webhook
from bijli.payments.model import PaymentEvent, PaymentStatus, event_body, sign
from bijli.prepaid.charging import Account, Installation, Metered, MonthOpening, day_totals, derive, month_bounds
from bijli.prepaid.handlers import record_recharge
from bijli.prepaid.tariff import Slab, Tariff, TariffVersion, builtin_tariffs
from bijli.protocol import topics
from bijli.protocol.codec import seal
from bijli.protocol.frames import PROTOCOL_VERSION, Redemption, TokenFrame
from tests.support.frames import reading
from tests.support.world import SECRET

PUBLISHED = builtin_tariffs()["UP-LMV1-DU"]
CHANGE_DAY = date(2026, 11, 30)
"""A made-up later version, in force from 30 Nov (tests only; never in the shipped file)."""
TARIFF = Tariff(
    PUBLISHED.code,
    PUBLISHED.name,
    (
        *PUBLISHED.versions,
        TariffVersion(
            effective_from=CHANGE_DAY,
            slabs=(Slab(100_000, Decimal("6.10")), Slab(None, Decimal("7.35"))),
            fixed_per_kw_month=Decimal("125.00"),
            duty_rate=Decimal("0.05"),
            label="TEST-LATER",
            source="made up for the property test",
        ),
    ),
)
INSTALLED = ist_midnight(date(2026, 11, 1)) + timedelta(hours=9)
MONTH_END = ist_midnight(date(2026, 12, 1))
OPENING_PAISE = 50_000
KINDS = ("day_charge", "day_correction")
counter = itertools.count(1)


@dataclass(frozen=True)
class Plan:
    first: int
    """First interval, in intervals before 1 Dec (IST)."""
    used_before: int
    """Wh the meter recorded after installation before the first interval here (readings
    the test does not hold): the month's slabs start from there."""
    whs: list[int]
    lost: frozenset[int]
    """Intervals never delivered (VEE may estimate them)."""
    order: list[int]
    cuts: list[int]
    settle_hours: list[int]
    """After each part, settle at the part's last interval end plus this many hours."""
    resent: frozenset[int]
    recharges: list[tuple[int, int, int]]
    """(after part, paise, payment number): a number seen twice is one payment reported twice."""
    vee_after: frozenset[int]
    restart_after: frozenset[int]
    replaced_at: int | None
    """The interval from which a new meter is installed in place of the old one."""
    payments: list[tuple[int, int, str, int, bool]] = field(default_factory=list)
    """(after part, paise, fate, times each webhook is sent, token typed at the meter): fate
    captured, failed, or refunded (captured, then refunded after a later part)."""


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(4, 36))
    # Up to three days before 1 Dec: often across the month's end, or the tariff's change on 30 Nov.
    first = draw(st.one_of(st.integers(1, n), st.integers(1, 300)))
    whs = draw(st.lists(st.integers(0, 2_500), min_size=n, max_size=n))
    lost = frozenset(draw(st.sets(st.integers(0, n - 1), max_size=n // 4)))
    order = draw(st.permutations([k for k in range(n) if k not in lost]))
    parts = draw(st.integers(1, min(6, len(order) or 1)))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(order) - 1)), min_size=parts - 1, max_size=parts - 1)))
    return Plan(
        first=first,
        used_before=draw(st.integers(0, 200_000)),
        whs=whs,
        lost=lost,
        order=list(order),
        cuts=cuts,
        settle_hours=draw(st.lists(st.integers(0, 40), min_size=parts, max_size=parts)),
        resent=frozenset(draw(st.sets(st.sampled_from(order), max_size=3)) if order else frozenset()),
        recharges=draw(
            st.lists(st.tuples(st.integers(0, parts - 1), st.integers(1, 90_000), st.integers(1, 3)), max_size=4)
        ),
        vee_after=frozenset(draw(st.sets(st.integers(0, parts - 1), max_size=2))),
        restart_after=frozenset(draw(st.sets(st.integers(0, parts - 1), max_size=2))),
        replaced_at=draw(st.one_of(st.none(), st.integers(1, n - 1))),
        payments=draw(
            st.lists(
                st.tuples(
                    st.integers(0, parts - 1),
                    st.integers(100, 90_000),
                    st.sampled_from(["captured", "failed", "refunded"]),
                    st.integers(1, 3),
                    st.booleans(),
                ),
                max_size=3,
            )
        ),
    )


class Site:
    """One store (SQLite file or PostgreSQL database), opened again on a restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = db.create(url)
        db.upgrade(self.engine)
        self.store = Store(self.engine, {TARIFF.code: TARIFF})

    def restart(self) -> None:
        self.engine.dispose()
        self.engine = db.create(self.url)
        self.store = Store(self.engine, {TARIFF.code: TARIFF})

    def all(self, sql: str, **params: object) -> list[sa.Row[tuple[object, ...]]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))


def play(site: Site, plan: Plan) -> None:
    n = next(counter)
    account, old, new = f"KESCOPT{n:07d}", f"KNPT{n:07d}", f"KNPR{n:07d}"
    starts = [MONTH_END - plan.first * INTERVAL + k * INTERVAL for k in range(len(plan.whs))]
    swap = None if plan.replaced_at is None else starts[plan.replaced_at]
    meter_of = [old if swap is None or at < swap else new for at in starts]
    registers, total = [], {old: 5_000_000 + plan.used_before, new: 12}
    for m, wh in zip(meter_of, plan.whs, strict=True):
        total[m] += wh
        registers.append(total[m])
    load = 2000
    onboarding.register_consumer(
        site.store, Consumer(consumer_id=account, name="Test", mobile="+919800000000", created_at=INSTALLED)
    )
    onboarding.install_meter(
        site.store,
        Installing(
            account_no=account,
            consumer_id=account,
            meter=site_of(old),
            terms=AccountTerms(tariff_code=TARIFF.code, sanctioned_load_w=load),
            installed_at=INSTALLED,
            opening_wh_total=5_000_000,
            opening_balance_paise=OPENING_PAISE,
        ),
        [TARIFF.code],
        INSTALLED,
        by="test",
    )
    installations = [Installation(account_no=account, meter_id=old, installed_at=INSTALLED, opening_wh_total=5_000_000)]
    if swap is not None:
        closing = 5_000_000 + plan.used_before + sum(wh for m, wh in zip(meter_of, plan.whs, strict=True) if m == old)
        installations = replace_meter(site, account, old, new, swap, closing)
    counters = {old: 0, new: 0}

    def sent(k: int) -> Delivery:
        """Interval k's reading in a frame of its own, with its meter's next frame counter (a
        meter numbers frames as it sends them, whichever interval they carry)."""
        counters[meter_of[k]] += 1
        return Delivery(
            *reading(SECRET, meter_of[k], counters[meter_of[k]], starts[k], wh=plan.whs[k], total=registers[k])
        )

    frames = {k: sent(k) for k in plan.order}  # numbered in the order they are sent
    COUNTERS.update(counters)
    ring = KeyRing(SECRET)
    parts = [plan.order[a:b] for a, b in itertools.pairwise([0, *plan.cuts, len(plan.order)])]
    paid: dict[int, int] = {}
    paid_by_gateway = 0
    for i, part in enumerate(parts):
        at = max((starts[k] for k in part), default=starts[0]) + INTERVAL
        batch = [frames[k] for k in part] + [frames[k] for k in part if k in plan.resent]
        ingest_batch(site.store, batch, ring, "bijli", at)
        settle_all(site.store, at + timedelta(hours=plan.settle_hours[i]))
        for when, paise, number in plan.recharges:
            if when == i:
                record_recharge(site.store, account, paise, f"{account}-{number}", at)
                paid.setdefault(number, paise)
        paid_by_gateway += webhooks(site, plan, account, i, at)
        if i in plan.vee_after:
            run_vee(site.store, at, lookback=timedelta(hours=12), grace=timedelta(0))
            settle_all(site.store, at)
        if i in plan.restart_after:
            site.restart()
        ledger_holds_what_was_posted(site, account)
        expected_now = OPENING_PAISE + sum(paid.values()) + paid_by_gateway - charged_so_far(site, account)
        assert balance(site, account) == expected_now
    settle_all(site.store, starts[-1] + timedelta(days=3))

    delivered = [
        Metered(meter_of[k], starts[k], plan.whs[k], registers[k]) for k in range(len(starts)) if k not in plan.lost
    ]
    owner = Account(account_no=account, sanctioned_load_w=load, tariff=TARIFF, installations=tuple(installations))
    expected = []
    for month in sorted({f"{at.astimezone(IST):%Y-%m}" for at in starts}):
        expected += day_totals(owner, derive(owner, month, month_opening(owner, month, delivered), delivered))
    days = site.all(
        "SELECT day, charge_paise, energy_wh, posted_paise, tariff_version FROM day_charges "
        "WHERE account_no = :a ORDER BY day",
        a=account,
    )
    assert [(str(d.day), d.charge_paise, d.energy_wh, d.tariff_version) for d in expected] == [
        (str(r[0]), r[1], r[2], r[4]) for r in days
    ]
    assert all(r[1] == r[3] for r in days)  # every day closed: all of it on the ledger
    owed = sum(d.charge_paise for d in expected)
    assert ledger_charges(site, account) == owed
    assert balance(site, account) == OPENING_PAISE + sum(paid.values()) + paid_by_gateway - owed


def month_opening(owner: Account, month: str, delivered: list[Metered]) -> MonthOpening | None:
    """The rule, written out: the register at the end of the last actual reading before the
    month of the meter in place when it began (else its installation's)."""
    start, _ = month_bounds(month)
    inst = owner.in_place_at(start)
    if inst is None:
        return None
    before = [
        m for m in delivered if m.meter_id == inst.meter_id and inst.installed_at < m.interval_start + INTERVAL <= start
    ]
    if not before:
        return MonthOpening(inst.opening_wh_total, inst.installed_at)
    last = max(before, key=lambda m: m.interval_start)
    return MonthOpening(last.wh_total, last.interval_start + INTERVAL)


SECRET_FOR_WEBHOOKS = b"property-test-gateway-secret-0123456789"
COUNTERS: dict[str, int] = {}
"""Each meter's last frame counter sent (the token frames come after its readings' frames)."""


def webhooks(site: Site, plan: Plan, account: str, part: int, at: datetime) -> int:
    """The gateway's calls due after `part` (each sent as often as the plan says), and the
    meter's reports of its tokens typed at it (twice); what they should add to the balance."""
    added = 0
    for k, (when, paise, fate, times, typed) in enumerate(plan.payments):
        payment = f"{account}-pay{k}"
        if when == part:
            status = PaymentStatus.FAILED if fate == "failed" else PaymentStatus.CAPTURED
            for _ in range(times):
                gateway(site, payment, account, paise, status, at)
            if status is PaymentStatus.CAPTURED:
                added += paise
                if typed:
                    redeem(site, payment, at)
        if fate == "refunded" and part == min(when + 1, len(plan.settle_hours) - 1) and part > when:
            for _ in range(times):
                gateway(site, payment, account, paise, PaymentStatus.REFUNDED, at)
            added -= paise
    return added


def gateway(site: Site, payment: str, account: str, paise: int, status: PaymentStatus, at: datetime) -> None:
    event = PaymentEvent(
        event_id=f"evt-{payment}-{status.value}", payment_id=payment, account_no=account, amount_paise=paise,
        status=status, at=at,
    )  # fmt: skip
    body = event_body(event)
    take_webhook(site.store, body, sign(SECRET_FOR_WEBHOOKS, body), SECRET_FOR_WEBHOOKS, 1, at)


def redeem(site: Site, payment: str, at: datetime) -> None:
    """The meter reports the payment's token as typed at its hotspot, and again (a replay)."""
    [(meter, token_id, paise)] = site.all(
        "SELECT meter_id, token_id, amount_paise FROM tokens_issued WHERE payment_id = :p", p=payment
    )
    COUNTERS[str(meter)] = COUNTERS.get(str(meter), 0) + 1
    fc = COUNTERS[str(meter)]
    frame = TokenFrame(
        v=PROTOCOL_VERSION, m=str(meter), fc=fc, ts=epoch(at),
        redemptions=[Redemption(token_id=int(token_id), status=0, amount_paise=int(paise), at=epoch(at))],  # type: ignore[call-overload]
    )  # fmt: skip
    sealed = Delivery(topics.uplink("bijli", str(meter), "token"), seal(SECRET.frame_key(str(meter)), frame))
    ring = KeyRing(SECRET)
    for _ in range(2):
        ingest_batch(site.store, [sealed], ring, "bijli", at)
    reconcile(site.store, at)


def site_of(meter_id: str) -> MeterSite:
    return MeterSite(meter_id=meter_id, area="Civil Lines", feeder="CL-F01", transformer="CL-F01-DT01", phases=1)


def replace_meter(site: Site, account: str, old: str, new: str, swap: datetime, closing: int) -> list[Installation]:
    """The old meter's installation ends at `swap` with its closing register; the new one's
    starts (onboarding's replacement). The old meter is kept in service meanwhile, so frames it
    sent before the swap that arrive after it are taken (readings in any order)."""
    onboarding.replace_meter(
        site.store,
        Replacing(
            old_meter_id=old, closing_wh_total=closing, new=site_of(new), opening_wh_total=12, at=swap, reason="swap"
        ),
        swap,
        by="test",
    )
    onboarding.change_status(
        site.store, old, MeterStatus.COMMISSIONED, changed_by="test", reason="its backlog is still to come", now=swap
    )
    return [
        Installation(
            account_no=account,
            meter_id=old,
            installed_at=INSTALLED,
            opening_wh_total=5_000_000,
            removed_at=swap,
            closing_wh_total=closing,
        ),
        Installation(account_no=account, meter_id=new, installed_at=swap, opening_wh_total=12),
    ]


def balance(site: Site, account: str) -> int:
    [(posted,)] = site.all("SELECT coalesce(sum(amount_paise), 0) FROM ledger WHERE account_no = :a", a=account)
    [(running,)] = site.all(
        "SELECT coalesce(sum(charge_paise - posted_paise), 0) FROM day_charges WHERE account_no = :a", a=account
    )
    return int(posted) - int(running)  # type: ignore[call-overload]


def charged_so_far(site: Site, account: str) -> int:
    [(charged,)] = site.all("SELECT coalesce(sum(charge_paise), 0) FROM day_charges WHERE account_no = :a", a=account)
    return int(charged)  # type: ignore[call-overload]


def ledger_charges(site: Site, account: str) -> int:
    [(total,)] = site.all(
        "SELECT coalesce(-sum(amount_paise), 0) FROM ledger "
        "WHERE account_no = :a AND kind IN ('day_charge', 'day_correction')",
        a=account,
    )
    return int(total)  # type: ignore[call-overload]


def ledger_holds_what_was_posted(site: Site, account: str) -> None:
    [(posted,)] = site.all("SELECT coalesce(sum(posted_paise), 0) FROM day_charges WHERE account_no = :a", a=account)
    assert ledger_charges(site, account) == int(posted)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def sqlite_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return Site(db.sqlite_url(tmp_path_factory.mktemp("charging")))


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans())
def test_balances_and_months_charges_hold_whatever_the_order_on_sqlite(sqlite_site: Site, plan: Plan) -> None:
    play(sqlite_site, plan)


@pytest.mark.postgres
def test_the_same_plans_hold_on_postgresql(pg_url: str) -> None:
    site = Site(pg_url)
    for seed in range(8):
        play(site, fixed_plan(random.Random(seed)))
    site.engine.dispose()


def fixed_plan(rng: random.Random) -> Plan:
    """A plan drawn from a seed (the PostgreSQL run repeats the same few every time)."""
    n = rng.randint(8, 30)
    lost = frozenset(rng.sample(range(n), rng.randint(0, n // 4)))
    order = [k for k in range(n) if k not in lost]
    rng.shuffle(order)
    parts = rng.randint(2, 5)
    cuts = sorted(rng.sample(range(1, len(order)), parts - 1))
    return Plan(
        first=rng.randint(4, 300),
        used_before=rng.randint(0, 200_000),
        whs=[rng.randint(0, 2_500) for _ in range(n)],
        lost=lost,
        order=order,
        cuts=cuts,
        settle_hours=[rng.randint(0, 40) for _ in range(parts)],
        resent=frozenset(rng.sample(order, 2)),
        recharges=[(rng.randrange(parts), rng.randint(1, 90_000), rng.randint(1, 2)) for _ in range(3)],
        vee_after=frozenset({rng.randrange(parts)}),
        restart_after=frozenset({rng.randrange(parts)}),
        replaced_at=rng.choice([None, rng.randint(1, n - 1)]),
        payments=[
            (rng.randrange(parts), rng.randint(100, 90_000), fate, rng.randint(1, 3), rng.random() < 0.5)
            for fate in ("captured", "failed", "refunded")
        ],
    )
