"""Snake case in, camel case out.

Request bodies are snake_case, but every field is also accepted in camelCase at any depth
(management-api.md §1.4). `normalise_keys` rewrites a parsed body to snake_case and remembers
how the caller spelled each key, so validation errors can name fields the caller's way.
Free-form objects (metadata, payloads) are copied verbatim: their keys are the caller's data.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=4096)
def to_snake(name: str) -> str:
    # Cached: every key of every request body passes here, and a body's keys are nearly always
    # the same few dozen names (bounded, so a caller's made-up keys only evict).
    return _CAMEL_BOUNDARY.sub(r"_\1", name).lower()


def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass
class Spelling:
    """How the caller spelled the keys of one object (snake name -> original), recursively."""

    keys: dict[str, str] = field(default_factory=dict)
    children: dict[str | int, Spelling] = field(default_factory=dict)

    def path(self, loc: tuple[str | int, ...]) -> str:
        out = ""
        node: Spelling | None = self
        for part in loc:
            if isinstance(part, int):
                out += f"[{part}]"
                node = node.children.get(part) if node else None
                continue
            spelled = node.keys.get(part, part) if node else part
            out += ("." if out else "") + spelled
            node = node.children.get(part) if node else None
        return out


def normalise_keys(data: Any, freeform: frozenset[str] = frozenset()) -> tuple[Any, Spelling]:
    """Return `data` with snake_case keys and the caller's spelling of each.

    When both spellings of a field are present, the snake_case one wins. Keys listed in
    `freeform` (snake names) keep their value untouched.
    """
    spelling = Spelling()
    if isinstance(data, list):
        out_list = []
        for i, item in enumerate(data):
            value, child = normalise_keys(item, freeform)
            out_list.append(value)
            spelling.children[i] = child
        return out_list, spelling
    if not isinstance(data, dict):
        return data, spelling
    out: dict[str, Any] = {}
    # Snake spellings first so they win over a camel duplicate.
    ordered = sorted(data.items(), key=lambda kv: 0 if to_snake(kv[0]) == kv[0] else 1)
    for key, value in ordered:
        snake = to_snake(key)
        if snake in out:
            continue
        spelling.keys[snake] = key
        if snake in freeform:
            out[snake] = value
        else:
            out[snake], spelling.children[snake] = normalise_keys(value, freeform)
    return out, spelling
