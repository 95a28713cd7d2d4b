from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import field_validator

from reten.activity_config.models import ResultOutcome
from reten.kit.schemas import Bool, InputModel, Int, Name255, ReadModel, Timestamp
from reten.kit.validators import NoNull

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class TaskResultTypeCreate(InputModel):
    code: str
    label: Name255
    requires_future_scheduled_at: Bool = False
    outcome: ResultOutcome = ResultOutcome.EFFECTIVE
    is_active: Bool = True
    sort_order: Int = 0

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError("must match ^[A-Z][A-Z0-9_]{0,63}$ (e.g. SALE_COMPLETED)")
        return value


class TaskResultTypeUpdate(InputModel):
    label: Annotated[Name255 | None, NoNull] = None
    requires_future_scheduled_at: Annotated[Bool | None, NoNull] = None
    outcome: Annotated[ResultOutcome | None, NoNull] = None
    is_active: Annotated[Bool | None, NoNull] = None
    sort_order: Annotated[Int | None, NoNull] = None


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
