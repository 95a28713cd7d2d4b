"""Objects of one tenant for the route-table isolation test (tests/test_route_table.py)."""

from __future__ import annotations

from tests.factories import Maker

OBJECT_MAKERS: dict[str, Maker] = {}
