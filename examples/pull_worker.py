"""A complete pull integration with the SDK: every pending task gets a result.

RETEN_BASE_URL=https://reten.example RETEN_API_KEY=rtn_sk_... python pull_worker.py
"""

from typing import Any

from reten.client import Reten, Task


def decide(task: Task) -> dict[str, Any]:  # your system's logic goes here
    return {
        "status": "EFFECTIVE",
        "result": "SALE_COMPLETED",
        "comment": f"visited {task.commerce_name}",
    }


def main() -> None:
    with Reten() as client:
        for task in client.tasks.list(status="PENDING", per_page=100):
            client.results.submit(
                activity_id=task.id, commerce_external_id=task.commerce_external_id, **decide(task)
            )


if __name__ == "__main__":
    main()
