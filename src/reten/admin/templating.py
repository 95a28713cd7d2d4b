"""The Jinja2 environment of the panel, its filters, and rendering one block of a template."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from reten import __version__
from reten.admin.nav import NAV
from reten.kit.time import ensure_utc, iso

# The time zone of the page being rendered (the tenant's), so that `when` works the same inside
# macros, which do not see the page's context.
_page_tz: ContextVar[ZoneInfo | None] = ContextVar("page_tz", default=None)
UTC_ZONE = ZoneInfo("UTC")


def when(value: datetime | str | None, empty: str = "—") -> Markup:
    """A timestamp in the tenant's time zone, with the exact UTC value on hover."""
    if value is None or value == "":
        return Markup(escape(empty))
    if isinstance(value, str):
        # The API's read models (ActivityDetail...) carry ISO strings, already the UTC value
        # the title shows.
        stamp = value
        utc = ensure_utc(datetime.fromisoformat(value))
    else:
        utc = ensure_utc(value)
        stamp = iso(utc) or ""
    local = utc.astimezone(_page_tz.get() or UTC_ZONE)
    # Digits and separators only, so nothing to escape; formatted by hand because lists call
    # this twice a row, and strftime cost several times the rest.
    shown = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    )
    stamp = escape(stamp)
    return Markup(f'<time datetime="{stamp}" title="{stamp} UTC">{shown}</time>')


def badge(text: object, kind: str = "neutral") -> Markup:
    """A status label. A function rather than a macro: lists call it on every row, and a Jinja
    macro call costs several times a Python call."""
    return Markup(f'<span class="badge badge-{escape(kind)}">{escape(text)}</span>')


def static_url(path: str) -> str:
    # The version in the query string makes a browser fetch assets again after an upgrade.
    return f"/static/{path}?v={__version__}"


# dict's own methods: `x.items()` on a dict means the method even when it has an "items" key.
_DICT_METHODS = frozenset(dir(dict))


class _PanelEnvironment(Environment):
    """Jinja2's environment with a faster `x.name` on dicts, which most page values are (the
    API's read models): Jinja2 tries the attribute first and the key only after its
    AttributeError, which cost a tenth of a list page; here the key comes first, as the
    fallback would have given it."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_METHODS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = _PanelEnvironment(
        loader=PackageLoader("reten.admin", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["when"] = when
    env.globals["static"] = static_url
    env.globals["badge"] = badge
    env.globals["nav"] = NAV
    env.globals["version"] = __version__
    # The shared macros, usable in every template and every block as `ui.<macro>(...)`.
    env.globals["ui"] = env.get_template("_macros.html").module
    return env


def render_template(
    name: str, values: Mapping[str, Any], *, tz: ZoneInfo, block: str | None = None
) -> str:
    template = environment().get_template(name)
    token = _page_tz.set(tz)
    try:
        if block is None:
            return template.render(values)
        # One block of the same template (the htmx fragment), rendered with the page's values.
        render_block = template.blocks[block]
        return "".join(render_block(template.new_context(dict(values))))
    finally:
        _page_tz.reset(token)


STATIC_DIR = str(files("reten.admin") / "static")
