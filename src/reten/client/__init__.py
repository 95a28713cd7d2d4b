"""Python SDK for the Reten API.

    from reten.client import Reten

    client = Reten()  # RETEN_BASE_URL and RETEN_API_KEY
    for task in client.tasks.list(status="PENDING"):
        client.results.submit(
            activity_id=task.id, commerce_external_id=task.commerce_external_id,
            status="EFFECTIVE", result="SALE_COMPLETED",
        )

It imports nothing from the server side: httpx and pydantic are all it needs.
"""

from reten.client._async_client import AsyncReten, AsyncTaskPage
from reten.client._client import Reten, TaskPage
from reten.client._errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    ConnectionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetenError,
    ServerError,
    TimeoutError,
    UnprocessableError,
    ValidationError,
)
from reten.client._paging import TaskChanges
from reten.client.models import (
    Activity,
    BatchResult,
    PageMeta,
    ResultType,
    SubmittedResult,
    SyncResult,
    Task,
)

__all__ = [
    "APIError",
    "Activity",
    "AsyncReten",
    "AsyncTaskPage",
    "AuthenticationError",
    "BatchResult",
    "ConflictError",
    "ConnectionError",
    "NotFoundError",
    "PageMeta",
    "PermissionDeniedError",
    "RateLimitError",
    "ResultType",
    "Reten",
    "RetenError",
    "ServerError",
    "SubmittedResult",
    "SyncResult",
    "Task",
    "TaskChanges",
    "TaskPage",
    "TimeoutError",
    "UnprocessableError",
    "ValidationError",
]
