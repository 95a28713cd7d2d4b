"""Lists of the panel: state in the URL (filters, sort, page), and the page shown.

A list view builds a `ListState` from the request, hands its `page`, `sort` and filters to the
service's paginated list function, and renders a `ListPage`. The macros `ui.sort_header`,
`ui.pager` and `ui.empty_state` (templates/_macros.html) take these objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from reten.kit.pagination import PageParams, parse_page_params

PER_PAGE = 25


@dataclass(frozen=True)
class ListState:
    """Where a list is: every non-empty query parameter, so links keep the filters."""

    path: str
    params: dict[str, str]
    page: PageParams
    default_sort: str

    @property
    def sort(self) -> str:
        return self.params.get("sort") or self.default_sort

    def get(self, name: str) -> str | None:
        """A filter's value from the URL, None when absent or empty."""
        return self.params.get(name) or None

    def url(self, **changes: Any) -> str:
        """This list with some parameters changed (None removes one).

        Changing anything but the page goes back to page 1: page 7 of another filter is
        seldom what anyone wants.
        """
        params = dict(self.params)
        if "page" not in changes:
            params.pop("page", None)
        for name, value in changes.items():
            if value is None or value == "":
                params.pop(name, None)
            else:
                params[name] = str(value)
        if params.get("page") == "1":
            params.pop("page")
        return self.path + (f"?{urlencode(params)}" if params else "")

    def sort_url(self, column: str) -> str:
        """Sort by `column`; ascending first, descending when it already sorts ascending."""
        return self.url(sort=f"-{column}" if self.sort == column else column)

    def sort_direction(self, column: str) -> str | None:
        """ "ascending" / "descending" when the list sorts by `column` (for aria-sort)."""
        if self.sort == column:
            return "ascending"
        if self.sort == f"-{column}":
            return "descending"
        return None


def list_state(request: Request, *, default_sort: str, per_page: int = PER_PAGE) -> ListState:
    """The list's state from the query string; a bad `page` is the API's 400 (an error page)."""
    params = {k: v for k, v in request.query_params.items() if v != ""}
    page = parse_page_params(
        params.get("page"), params.get("per_page"), None, default_per_page=per_page
    )
    return ListState(request.url.path, params, page, default_sort)


@dataclass(frozen=True)
class ListPage:
    """One page of a list, for the pager and the empty state."""

    items: list[Any]
    total: int
    total_is_estimate: bool
    state: ListState

    @property
    def number(self) -> int:
        return self.state.page.page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.state.page.per_page))

    @property
    def previous_url(self) -> str | None:
        return self.state.url(page=self.number - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.state.url(page=self.number + 1) if self.number < self.pages else None

    @property
    def filtered(self) -> bool:
        """Whether any filter is set (the empty state then offers to clear them)."""
        return any(k not in ("page", "per_page", "sort") for k in self.state.params)
