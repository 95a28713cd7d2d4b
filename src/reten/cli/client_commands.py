"""Integrator commands of `reten`: they talk to a Reten server over HTTP with the SDK, using
`--base-url`/`--api-key` or RETEN_BASE_URL/RETEN_API_KEY, and never touch a database."""

from __future__ import annotations

import importlib
import json
import logging
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from reten.client import (
    APIError,
    ConflictError,
    ConnectionError,
    RateLimitError,
    Reten,
    RetenError,
    ServerError,
    Task,
)

tasks_app = typer.Typer(help="Tasks, through the integration API.", no_args_is_help=True)
results_app = typer.Typer(help="Task results, through the integration API.", no_args_is_help=True)

BaseUrl = typer.Option(None, "--base-url", envvar="RETEN_BASE_URL", help="Server root URL.")
ApiKey = typer.Option(
    None, "--api-key", envvar="RETEN_API_KEY", help="API key (rtn_sk_...).", show_default=False
)
Verbose = typer.Option(False, "--verbose", "-v", help="Log every request and retry to stderr.")

# Keyword arguments of results.submit a pull handler may return (the ids come from the task).
HANDLER_FIELDS = frozenset({
    "status", "result", "comment", "operator_external_id", "contact_type", "future_scheduled_at",
    "occurred_at", "external_status", "hard_override", "payload", "raw_payload",
})  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
    app.add_typer(results_app, name="results")
    app.command("pull")(pull)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def _client(base_url: str | None, api_key: str | None, verbose: bool) -> Iterator[Reten]:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    # The SDK's own lines say what matters (method, path, status, retry); keep the transport's quiet.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        with Reten(base_url, api_key) as client:
            yield client
    except RetenError as exc:
        _say(f"error: {exc}")
        details = getattr(exc, "body", {}).get("details") if isinstance(exc, APIError) else None
        for d in details or []:
            _say(f"  {d.get('field')}: {d.get('message')}")
        raise typer.Exit(1) from None


def _filters(
    status: str | None, channel: str | None, commerce: str | None, operator: str | None
) -> dict[str, Any]:
    values = {
        "status": status, "channel": channel,
        "external_commerce_id": commerce, "external_operator_id": operator,
    }  # fmt: skip
    return {k: v for k, v in values.items() if v}


def _task_json(task: Task) -> dict[str, Any]:
    return task.model_dump(by_alias=True, mode="json")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# ------------------------------------------------------------------------------------ tasks


@tasks_app.command("list")
def tasks_list(
    status: str | None = typer.Option(
        None, "--status", help="PENDING, IN_PROGRESS, COMPLETED, CANCELLED (comma-separated)."
    ),
    result_status: str | None = typer.Option(None, "--result-status"),
    channel: str | None = typer.Option(None, "--channel"),
    commerce: str | None = typer.Option(None, "--commerce", help="A commerce's external id."),
    operator: str | None = typer.Option(None, "--operator", help="An operator's external id."),
    updated_since: str | None = typer.Option(None, "--updated-since", help="ISO 8601."),
    per_page: int = typer.Option(20, "--per-page", min=1, max=100),
    page: int = typer.Option(1, "--page", min=1),
    every: bool = typer.Option(False, "--all", help="Every matching task, page after page."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    base_url: str | None = BaseUrl,
    api_key: str | None = ApiKey,
    verbose: bool = Verbose,
) -> None:
    """List tasks: a table, or JSON lines with --json."""
    filters = _filters(status, channel, commerce, operator)
    if result_status:
        filters["result_status"] = result_status
    if updated_since:
        filters["updated_since"] = updated_since
    with _client(base_url, api_key, verbose) as client:
        listing = client.tasks.list(page=page, per_page=per_page, **filters)
        tasks: Iterator[Task] = iter(listing) if every else iter(listing.data)
        if as_json:
            for task in tasks:
                sys.stdout.write(json.dumps(_task_json(task)) + "\n")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(
            "id", "status", "lifecycle", "channel", "scheduled", "commerce", "name", "operator"
        )
        shown = 0
        for task in tasks:
            shown += 1
            table.add_row(
                task.id, task.status, task.lifecycle_status, task.channel,
                task.scheduled_at.strftime("%Y-%m-%d %H:%M"), task.commerce_external_id,
                task.commerce_name, task.operator_external_id or "",
            )  # fmt: skip
        console = Console(width=200)
        console.print(table)
        console.print(f"{shown} shown of {listing.meta.total}", highlight=False)


@tasks_app.command("watch")
def tasks_watch(
    since: str | None = typer.Option(
        None, "--since", help="Start from this watermark (ISO 8601); default: everything."
    ),
    status: str | None = typer.Option(None, "--status"),
    channel: str | None = typer.Option(None, "--channel"),
    commerce: str | None = typer.Option(None, "--commerce"),
    operator: str | None = typer.Option(None, "--operator"),
    interval: float = typer.Option(5.0, "--interval", min=0.1, help="Seconds between polls."),
    once: bool = typer.Option(False, "--once", help="Poll once and exit."),
    as_json: bool = typer.Option(
        False, "--json", help='Lines of {"watermark": ..., "task": {...}}.'
    ),
    base_url: str | None = BaseUrl,
    api_key: str | None = ApiKey,
    verbose: bool = Verbose,
) -> None:
    """Print tasks as they are created or change, with the watermark to resume from."""
    stop = _stop_on_signals()
    filters = _filters(status, channel, commerce, operator)
    # (id, updatedAt) already printed: the overlap window brings recent changes twice.
    printed: dict[tuple[str, datetime], datetime] = {}
    mark: datetime | str | None = since
    with _client(base_url, api_key, verbose) as client:
        while not stop.is_set():
            changes = client.tasks.changes(since=mark, **filters)
            stamp = changes.watermark.isoformat().replace("+00:00", "Z")
            for task in changes.tasks:
                if (task.id, task.updated_at) in printed:
                    continue
                printed[(task.id, task.updated_at)] = task.updated_at
                if as_json:
                    sys.stdout.write(
                        json.dumps({"watermark": stamp, "task": _task_json(task)}) + "\n"
                    )
                else:
                    sys.stdout.write(
                        f"{task.updated_at.isoformat()} {task.id} {task.status} "
                        f"{task.lifecycle_status} {task.commerce_external_id}\n"
                    )
            sys.stdout.flush()
            _say(f"watermark {stamp}")
            horizon = changes.watermark - timedelta(minutes=1)
            printed = {k: v for k, v in printed.items() if v >= horizon}
            mark = changes.watermark
            if once:
                break
            stop.wait(interval)


# ---------------------------------------------------------------------------------- results


@results_app.command("submit")
def results_submit(
    activity_id: str = typer.Argument(..., help="The task's id."),
    commerce: str = typer.Option(..., "--commerce", help="The task's commerce external id."),
    status: str = typer.Option(..., "--status", help="EFFECTIVE, NOT_EFFECTIVE or PENDING."),
    result: str = typer.Option(..., "--result", help="A result type code (e.g. SALE_COMPLETED)."),
    comment: str | None = typer.Option(None, "--comment"),
    operator: str | None = typer.Option(None, "--operator", help="The operator's external id."),
    future_scheduled_at: str | None = typer.Option(None, "--future-scheduled-at"),
    occurred_at: str | None = typer.Option(None, "--occurred-at", help="Default: now."),
    hard_override: bool = typer.Option(False, "--hard-override"),
    idempotency_key: str | None = typer.Option(
        None, "--idempotency-key", help="Default: generated."
    ),
    base_url: str | None = BaseUrl,
    api_key: str | None = ApiKey,
    verbose: bool = Verbose,
) -> None:
    """Submit a task's result and print the stored result as JSON."""
    extra: dict[str, Any] = {
        "comment": comment, "operator_external_id": operator,
        "future_scheduled_at": future_scheduled_at, "occurred_at": occurred_at,
        "idempotency_key": idempotency_key,
    }  # fmt: skip
    with _client(base_url, api_key, verbose) as client:
        stored = client.results.submit(
            activity_id=activity_id, commerce_external_id=commerce, status=status, result=result,
            hard_override=hard_override, **{k: v for k, v in extra.items() if v is not None},
        )  # fmt: skip
    print(json.dumps(stored.model_dump(by_alias=True, mode="json"), indent=2))


# ------------------------------------------------------------------------------------- pull

Handler = Callable[[Task], Mapping[str, Any] | None]


class SkipTask(Exception):
    """The handler declined the task, or failed on it: no result now, tried again next pass."""


def exec_handler(command: str, timeout: float) -> Handler:
    """Run COMMAND per task: the task's JSON on stdin, one JSON object of results.submit
    arguments on stdout; a non-zero exit skips the task."""
    argv = shlex.split(command)

    def handle(task: Task) -> Mapping[str, Any]:
        try:
            # A process group of its own: Ctrl-C in a terminal signals the whole foreground
            # group, and the command must finish the task in hand while the worker stops.
            done = subprocess.run(
                argv, input=json.dumps(_task_json(task)), capture_output=True, text=True,
                timeout=timeout, check=False, process_group=0,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SkipTask(f"command failed: {exc}") from None
        if done.returncode != 0:
            raise SkipTask(f"command exited with {done.returncode}: {done.stderr.strip()[-300:]}")
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            raise SkipTask("command did not print one JSON object") from None
        if not isinstance(answer, dict):
            raise SkipTask("command did not print one JSON object")
        return answer

    return handle


def import_handler(spec: str) -> Handler:
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise typer.BadParameter("--handler must be module:function")
    # A handler module next to where the worker runs is importable, as with `python -m`.
    sys.path.insert(0, str(Path.cwd()))
    try:
        target = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as exc:
        raise typer.BadParameter(f"cannot load {spec}: {exc}") from None
    if not callable(target):
        raise typer.BadParameter(f"{spec} is not callable")
    return target  # type: ignore[no-any-return]


class PullWorker:
    """Lists pending tasks, hands each to the handler, submits what it returns.

    `stop` is checked between tasks, never between computing a result and submitting it: a
    result already computed is always submitted (retries included) before the worker exits.
    """

    def __init__(
        self, client: Reten, handler: Handler, filters: dict[str, Any],
        stop: threading.Event, idle_max: float,
    ) -> None:  # fmt: skip
        self.client = client
        self.handler = handler
        self.filters = filters
        self.stop = stop
        self.idle_max = idle_max

    def run(self, once: bool) -> None:
        delay = 1.0
        while not self.stop.is_set():
            try:
                submitted = self.run_pass()
            except RateLimitError as exc:
                if once:
                    raise
                wait = exc.retry_after or delay
                _say(f"throttled; next pass in {wait:.0f} s")
                self.stop.wait(wait)
                continue
            except (ConnectionError, ServerError) as exc:
                if once:
                    raise
                _say(f"server unreachable ({exc}); next pass in {delay:.0f} s")
                self.stop.wait(delay)
                delay = min(delay * 2, self.idle_max)
                continue
            if once:
                return
            if submitted:
                delay = 1.0
            else:
                # Nothing to do: back off, up to idle_max, until work appears again.
                self.stop.wait(delay)
                delay = min(delay * 2, self.idle_max)

    def run_pass(self) -> int:
        submitted = 0
        for task in self.client.tasks.list(status="PENDING", per_page=100, **self.filters):
            if self.stop.is_set():
                break
            if self.handle(task):
                submitted += 1
        return submitted

    def handle(self, task: Task) -> bool:
        try:
            answer = self.handler(task)
        except SkipTask as exc:
            _say(f"task {task.id}: skipped ({exc})")
            return False
        except Exception as exc:  # a handler's own bug must not stop the worker
            _say(f"task {task.id}: handler raised {type(exc).__name__}: {exc}")
            return False
        if answer is None:
            return False
        unknown = set(answer) - HANDLER_FIELDS
        if unknown or "status" not in answer or "result" not in answer:
            _say(
                f"task {task.id}: skipped (handler must return status and result; unknown: {sorted(unknown)})"
            )
            return False
        arguments = {"operator_external_id": task.operator_external_id, **answer}
        try:
            stored = self.client.results.submit(
                activity_id=task.id, commerce_external_id=task.commerce_external_id, **arguments
            )
        except ConflictError as exc:
            _say(f"task {task.id}: already has a result ({exc.result_id})")
            return False
        except APIError as exc:
            if isinstance(exc, RateLimitError) or exc.status >= 500:
                raise
            _say(f"task {task.id}: refused: {exc}")
            return False
        _say(f"task {task.id}: {stored.status} {stored.task_result.result} (result {stored.id})")
        return True


def pull(
    exec_command: str | None = typer.Option(
        None, "--exec", help="Command run per task (task JSON on stdin)."
    ),
    handler: str | None = typer.Option(None, "--handler", help="module:function called per task."),
    channel: str | None = typer.Option(None, "--channel"),
    commerce: str | None = typer.Option(None, "--commerce"),
    operator: str | None = typer.Option(None, "--operator"),
    exec_timeout: float = typer.Option(300.0, "--exec-timeout", help="Seconds a command may run."),
    idle_max: float = typer.Option(
        30.0, "--idle-max", help="Longest pause between passes when idle."
    ),
    once: bool = typer.Option(False, "--once", help="One pass over the pending tasks, then exit."),
    base_url: str | None = BaseUrl,
    api_key: str | None = ApiKey,
    verbose: bool = Verbose,
) -> None:
    """Run a pull integration: hand each pending task to a command or a Python function and
    submit its result. Stops cleanly on SIGTERM, after submitting a result already computed."""
    if (exec_command is None) == (handler is None):
        raise typer.BadParameter("give exactly one of --exec and --handler")
    handle = (
        exec_handler(exec_command, exec_timeout) if exec_command else import_handler(handler or "")
    )
    stop = _stop_on_signals()
    with _client(base_url, api_key, verbose) as client:
        PullWorker(client, handle, _filters(None, channel, commerce, operator), stop, idle_max).run(
            once
        )
    _say("stopped")
