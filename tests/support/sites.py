"""A site for a test: a store, or a whole platform over a new store, with a small city in service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bijli import settings
from bijli.access.ports import SmsSender
from bijli.adapters.db import engine as db
from bijli.adapters.db.store import Store
from bijli.bootstrap import Platform, bootstrap
from bijli.fleet.city import Consumer, TransformerMeter
from bijli.fleet.commissioning import commission_city
from bijli.prepaid.tariff import Tariff, builtin_tariffs

TARIFF = "UP-LMV1-DU"


def commissioned_store(
    url: str,
    city: Sequence[Consumer],
    installed: datetime,
    transformers: Sequence[TransformerMeter] = (),
    tariffs: Mapping[str, Tariff] | None = None,
) -> Store:
    """A store at `url` at the newest schema, with `city` (and `transformers`) put into service
    at `installed` on the LMV-1 domestic tariff; the caller disposes of its engine."""
    engine = db.create(url)
    db.upgrade(engine)
    store = Store(engine, builtin_tariffs() if tariffs is None else tariffs)
    commission_city(store, TARIFF, city, installed, transformers)
    return store


def commissioned_platform(
    data_dir: Path,
    city: Sequence[Consumer],
    installed: datetime,
    transformers: Sequence[TransformerMeter] = (),
    sms: SmsSender | None = None,
    **options: Any,
) -> Platform:
    """A platform over the site in `data_dir` (made there if it has none), its store SQLite in
    that folder unless `options` name a `database_url` and its broker in memory unless they
    name another, with `city` (and `transformers`) put into service at `installed` on the
    site's tariff; `sms` replaces the SMS channel. The caller closes it."""
    chosen: dict[str, Any] = {"broker_url": "memory", "new_site": True, **options}
    platform = bootstrap(settings.build(data_dir=data_dir, **chosen), sms=sms)
    commission_city(platform.store, platform.settings.tariff_code, city, installed, transformers)
    return platform
