"""Where a list rendered on the server stands: the page shown, its rows' numbers, the pages there are."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from bijli.web.limits import MAX_OFFSET


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
