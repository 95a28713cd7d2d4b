"""The target-criteria vocabulary: one criterion of a target resolution config or of an
activity's resolution request (management-api.md §11.3), and how their priorities default."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from reten.activity_config.models import TargetCriteriaType
from reten.commerces.models import CommerceUserRole
from reten.kit.schemas import InputModel, Int


class CriteriaInput(InputModel):
    """One target criterion: `{type, config?, priority?}` (management-api.md §11.3)."""

    type: TargetCriteriaType
    config: dict[str, Any] = Field(default_factory=dict)
    priority: Annotated[Int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _role_match_needs_a_role(self) -> CriteriaInput:
        if self.type == TargetCriteriaType.ROLE_MATCH:
            role = self.config.get("role")
            if role not in CommerceUserRole.__members__:
                raise ValueError(
                    "config.role is required for ROLE_MATCH and must be one of "
                    + ", ".join(CommerceUserRole)
                )
        return self


def criteria_with_priorities(items: list[CriteriaInput]) -> list[CriteriaInput]:
    """Default each priority to the item's index; priorities must be distinct."""
    out = [
        item if item.priority is not None else item.model_copy(update={"priority": i})
        for i, item in enumerate(items)
    ]
    seen = [c.priority for c in out]
    if len(set(seen)) != len(seen):
        raise ValueError("criteria priorities must be distinct")
    return out
