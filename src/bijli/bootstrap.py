"""The composition root: the one place where adapters meet the code that uses them."""

from __future__ import annotations

from dataclasses import dataclass

from bijli.access.ports import SmsSender
from bijli.adapters import keyfile
from bijli.adapters.alert_channels import senders
from bijli.adapters.db import engine as db
from bijli.adapters.db.audit import AuditTrail
from bijli.adapters.db.dispatch import SqlCommandDispatch
from bijli.adapters.db.event_reads import EventReads
from bijli.adapters.db.maintenance import SqlMaintenance
from bijli.adapters.db.outages import OutageReads
from bijli.adapters.db.queries import Queries
from bijli.adapters.db.reads import Reads
from bijli.adapters.db.reports import SqlReports
from bijli.adapters.db.store import Store
from bijli.adapters.sms.console import ConsoleSms
from bijli.adapters.sms.off import NoSms
from bijli.alerts.model import Channel
from bijli.alerts.ports import Sender
from bijli.headend.model import KeyRing
from bijli.prepaid.tariff import builtin_tariffs
from bijli.settings import Settings


@dataclass(frozen=True, slots=True)
class Platform:
    """Everything the entry points need, wired once."""

    settings: Settings
    store: Store
    """Units of work for the use cases (`bijli.*.handlers`)."""
    queries: Queries
    """The read side: readings, edits, balances, commands, totals."""
    reads: Reads
    """What the pages and the API list: meters with balances, fleet counts, cached reports."""
    reports: SqlReports
    dispatch: SqlCommandDispatch
    """The command dispatcher's rounds over the store."""
    ring: KeyRing
    maintenance: SqlMaintenance
    """Schema revision, partitions, retention (`bijli db`)."""
    sms: SmsSender
    """The SMS channel (consumers' login codes)."""
    audit: AuditTrail
    """Who asked for what (the API's audit trail)."""
    alert_channels: dict[Channel, Sender]
    """The providers that carry alerts, by channel (`bijli.alerts.handlers.deliver_due`)."""
    events: EventReads
    """The meters' events with their incidents (the API's and the pages' lists)."""
    outages: OutageReads
    """The outages found (`bijli.network.handlers.find_outages`)."""

    def close(self) -> None:
        """Let go of the store's connections (the read side's too, when it has its own)."""
        self.store.dispose()
        if self.reads.engine is not self.store.engine:
            self.reads.engine.dispose()


SMS_CHANNELS = ("none", "console")


def bootstrap(settings: Settings, migrate: bool = True, sms: SmsSender | None = None) -> Platform:
    """Open the store (bringing its schema up to date) and wire the platform; `sms` replaces
    the SMS channel the settings name (tests read the console's messages)."""
    if settings.sms not in SMS_CHANNELS:
        raise SystemExit(f"unknown SMS channel {settings.sms!r}; known: {', '.join(SMS_CHANNELS)}")
    engine = db.create(settings.database_url)
    if migrate:
        db.upgrade(engine)
    # The read side answers the web: its statements are cut at the statement timeout (if any),
    # while ingest and the use cases' writes keep their own engine and run to the end.
    reader = (
        engine
        if settings.statement_timeout_s is None
        else db.create(settings.database_url, settings.statement_timeout_s)
    )
    tariffs = builtin_tariffs()
    if settings.tariff_code not in tariffs:
        raise SystemExit(f"unknown tariff {settings.tariff_code!r}; known: {', '.join(sorted(tariffs))}")
    return Platform(
        settings=settings,
        store=Store(engine, tariffs),
        queries=Queries(reader),
        reads=Reads(reader),
        reports=SqlReports(reader),
        dispatch=SqlCommandDispatch(engine),
        ring=KeyRing(settings.site_keys, reload=lambda: keyfile.load(settings.data_dir)),
        maintenance=SqlMaintenance(engine),
        sms=sms or (ConsoleSms() if settings.sms == "console" else NoSms()),
        audit=AuditTrail(engine),
        alert_channels=senders(settings.alerts, settings.data_dir),
        events=EventReads(reader),
        outages=OutageReads(reader),
    )
