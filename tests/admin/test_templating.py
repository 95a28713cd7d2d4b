"""The panel's Jinja2 environment and filters (reten/admin/templating.py), without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from reten.admin.templating import _page_tz, environment, when

SANTIAGO = ZoneInfo("America/Santiago")


class TestLookups:
    def test_a_dict_key_is_read_as_an_attribute(self) -> None:
        template = environment().from_string("{{ a.name }}/{{ a.missing }}/{{ a.nested.id }}")
        assert template.render(a={"name": "Kiosko", "nested": {"id": 7}}) == "Kiosko//7"

    def test_dict_methods_stay_methods_even_with_a_key_of_that_name(self) -> None:
        # Free-form attributes are caller data: a key named "items" must not hide the method.
        template = environment().from_string(
            "{% for k, v in a.items() %}{{ k }}={{ v }};{% endfor %}"
        )
        assert template.render(a={"items": 3, "keys": "x"}) == "items=3;keys=x;"

    def test_objects_keep_their_attributes(self) -> None:
        class Row:
            name = "attr"

        assert environment().from_string("{{ r.name }}").render(r=Row()) == "attr"


class TestWhen:
    def test_an_iso_string_shows_in_the_page_time_zone_with_utc_on_hover(self) -> None:
        assert in_santiago("2026-07-01T15:04:05.123Z") == (
            '<time datetime="2026-07-01T15:04:05.123Z" title="2026-07-01T15:04:05.123Z UTC">'
            "2026-07-01 11:04</time>"
        )

    def test_a_datetime_renders_like_its_iso_string(self) -> None:
        value = datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)
        assert in_santiago(value) == in_santiago("2026-01-02T03:04:05.600Z")
        # Summer time in Santiago: UTC-3 (July, above, is UTC-4).
        assert in_santiago(value).endswith(">2026-01-02 00:04</time>")

    def test_outside_a_page_the_time_is_utc(self) -> None:
        assert str(when("2026-07-01T15:04:05.123Z")).endswith(">2026-07-01 15:04</time>")

    def test_nothing_shows_the_placeholder(self) -> None:
        assert str(when(None)) == "—"
        assert str(when("", "never")) == "never"


def in_santiago(value: datetime | str) -> str:
    """`when(value)` as a page of a tenant in Santiago renders it."""
    token = _page_tz.set(SANTIAGO)
    try:
        return str(when(value))
    finally:
        _page_tz.reset(token)
