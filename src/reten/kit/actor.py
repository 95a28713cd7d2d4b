"""Who caused a change: a user, an API key or the system. Stored as a snapshot on events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ActorType(StrEnum):
    USER = "USER"
    API_KEY = "API_KEY"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: uuid.UUID | None
    label: str | None  # the user's email or the key's name, taken when the event is written

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorType.SYSTEM, None, None)


def actor_json(
    type_: str | None, id_: uuid.UUID | None, label: str | None
) -> dict[str, Any] | None:
    if type_ is None:
        return None
    return {"type": type_, "id": str(id_) if id_ else None, "label": label}
