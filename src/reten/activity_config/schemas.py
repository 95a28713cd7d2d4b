from __future__ import annotations

import re
import uuid

from pydantic import field_validator

from reten.activity_config.models import ResultOutcome
from reten.kit.schemas import InputModel, Name255, ReadModel, Timestamp

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class TaskResultTypeCreate(InputModel):
    code: str
    label: Name255
    requires_future_scheduled_at: bool = False
    outcome: ResultOutcome = ResultOutcome.EFFECTIVE
    is_active: bool = True
    sort_order: int = 0

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError("must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SALE_COMPLETED)")
        return value


class TaskResultTypeUpdate(InputModel):
    label: Name255 | None = None
    requires_future_scheduled_at: bool | None = None
    outcome: ResultOutcome | None = None
    is_active: bool | None = None
    sort_order: int | None = None


class TaskResultTypeRead(ReadModel):
    id: uuid.UUID
    code: str
    label: str
    requires_future_scheduled_at: bool
    outcome: str
    is_active: bool
    sort_order: int
    created_at: Timestamp
    updated_at: Timestamp
