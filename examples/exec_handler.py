"""A handler for `reten pull --exec "python exec_handler.py"`.

The task arrives as JSON on stdin (the API's camelCase fields). Print one JSON object with the
arguments of results.submit (status, result, comment, ...), or exit non-zero to skip the task.
"""

import json
import sys

task = json.load(sys.stdin)
if task["commerceExternalId"].endswith("-SKIP"):
    sys.exit(3)  # not ours to handle: skipped, offered again on the next pass
print(
    json.dumps(
        {
            "status": "EFFECTIVE",
            "result": "SALE_COMPLETED",
            "comment": f"handled by exec for {task['commerceName']}",
        }
    )
)
