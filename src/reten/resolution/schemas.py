"""Input shapes of resolution requests, shared by activity creation and the resolution engine.
(The target-criteria vocabulary lives in `activity_config.criteria`.)"""

from __future__ import annotations

from typing import Any

from reten.kit.schemas import InputModel


class AttributeInput(InputModel):
    """`{key, value?, fallback?}`: `value` and `fallback` are any JSON, null included."""

    key: str
    value: Any = None
    fallback: Any = None

    @property
    def has_value(self) -> bool:
        return "value" in self.model_fields_set

    @property
    def has_fallback(self) -> bool:
        return "fallback" in self.model_fields_set
