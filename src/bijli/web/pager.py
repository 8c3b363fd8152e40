"""Where a list rendered on the server stands: the page shown, its rows' numbers, the pages there are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from fastapi import HTTPException

from bijli.web.limits import MAX_OFFSET

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pager:
    page: int
    pages: int
    total: int
    first: int
    last: int

    @staticmethod
    def of(page: int, total: int, shown: int, size: int) -> Pager:
        """Page `page` of `total` rows, `size` a page, showing `shown` of them (no rows: 0 to 0)."""
        pages = max(1, -(-total // size))
        first = (page - 1) * size + 1 if shown else 0
        return Pager(page=page, pages=pages, total=total, first=first, last=first + shown - 1 if shown else 0)


def offset_of(page: int, size: int) -> int:
    """The rows before page `page`; 400 for a page past any list bijli keeps."""
    offset = (page - 1) * size
    if offset > MAX_OFFSET:
        raise HTTPException(status_code=400, detail=f"page {page} is past any list bijli keeps")
    return offset


def past_last(page: int, pager: Pager) -> None:
    """404 for a page past the list's last."""
    if page > pager.pages:
        raise HTTPException(status_code=404, detail=f"page {page} is past the last page, {pager.pages}")


def peeked(rows: Sequence[T], page: int, size: int) -> tuple[list[T], Pager]:
    """A page of a list read one row past it (`rows`: from the page's first row, up to `size`
    + 1, where counting the whole list would cost too much) and where it stands: one page more
    while a row lies beyond; 404 for a page past the last."""
    shown = list(rows[:size])
    if page > 1 and not shown:
        raise HTTPException(status_code=404, detail=f"page {page} is past the last page")
    offset = (page - 1) * size
    return shown, Pager(
        page=page,
        pages=page + 1 if len(rows) > size else page,
        total=offset + len(rows),
        first=offset + 1 if shown else 0,
        last=offset + len(shown),
    )
