"""The composition root: the one place where adapters meet the code that uses them."""

from __future__ import annotations

from dataclasses import dataclass

from bijli.adapters.db import engine as db
from bijli.adapters.db.queries import Queries
from bijli.adapters.db.store import Store
from bijli.headend.model import KeyRing
from bijli.prepaid.tariff import builtin_tariffs
from bijli.settings import Settings


@dataclass(frozen=True, slots=True)
class Platform:
    """Everything the entry points need, wired once."""

    settings: Settings
    store: Store
    queries: Queries
    ring: KeyRing


def bootstrap(settings: Settings, migrate: bool = True) -> Platform:
    """Open the store (bringing its schema up to date) and wire the platform."""
    engine = db.create(settings.database_url)
    if migrate:
        db.upgrade(engine)
    tariffs = builtin_tariffs()
    if settings.tariff_code not in tariffs:
        raise SystemExit(f"unknown tariff {settings.tariff_code!r}; known: {', '.join(sorted(tariffs))}")
    return Platform(
        settings=settings,
        store=Store(engine, tariffs),
        queries=Queries(engine),
        ring=KeyRing(settings.site_secret),
    )
