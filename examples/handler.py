"""A handler for `reten pull --handler handler:handle` (run from this folder).

It gets a `reten.client.Task` and returns the arguments of results.submit, or None to skip.
"""

from __future__ import annotations

from typing import Any

from reten.client import Task


def handle(task: Task) -> dict[str, Any] | None:
    if task.score is not None and task.score < 10:
        return None
    return {"status": "NOT_EFFECTIVE", "result": "NOT_INTERESTED", "comment": "declined by phone"}
