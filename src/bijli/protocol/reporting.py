"""How often meters report, and what that makes of a meter's silence."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

ONLINE_WITHIN: Final = timedelta(minutes=30)
"""A meter heard from within this long is online: it reports every 15-minute interval, so
two missed reports in a row are needed before it counts as offline."""
