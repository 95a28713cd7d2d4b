"""The SDK's integration calls against a real `reten serve`: the quickstart, task walks that
survive submissions, incremental sync, and the typed answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from reten.client import AsyncReten, ConflictError, Reten
from tests.client.conftest import Live
from tests.client.proxy import FaultProxy


def _submit(client: Reten, task_id: str, commerce: str, **extra: object) -> str:
    return client.results.submit(
        activity_id=task_id, commerce_external_id=commerce, status="EFFECTIVE",
        result="SALE_COMPLETED", **extra,  # type: ignore[misc]
    ).id  # fmt: skip


class TestQuickstart:
    def test_the_four_steps_with_the_sdk(self, live: Live) -> None:
        world = live.world(3)
        with live.client() as client:
            types = client.result_types()
            assert [t.code for t in types][:2] == ["SALE_COMPLETED", "NOT_INTERESTED"]
            assert next(t for t in types if t.code == "RESCHEDULE").requires_future_scheduled_at
            page = client.tasks.list(
                status="PENDING", per_page=5, external_commerce_id=world.commerce_external_id
            )
            assert page.meta.total == 3 and page.meta.limit == 5 and page.meta.total_pages == 1
            task = page.data[0]
            assert task.status == "PENDING" and task.commerce_name.startswith("Store")
            assert task.commerce_external_id == world.commerce_external_id
            assert isinstance(task.scheduled_at, datetime) and task.model_extra == {}
            result = client.results.submit(
                activity_id=task.id,
                commerce_external_id=task.commerce_external_id,
                status="EFFECTIVE",
                result="SALE_COMPLETED",
                comment="Customer accepted renewal offer",
                operator_external_id=task.operator_external_id,
            )
            assert result.activity_status == "COMPLETED" and result.lifecycle_status == "EFFECTIVE"
            assert result.task_result.result == "SALE_COMPLETED" and result.model_extra == {}
            assert result.task_result.operator_external_id == world.operator_external_id
            after = client.tasks.list(
                status="PENDING", external_commerce_id=world.commerce_external_id
            )
            assert after.meta.total == 2
            # snake_case attributes, and the API's own names back on the way out.
            assert task.model_dump(by_alias=True, mode="json")["commerceName"] == task.commerce_name


class TestWalkingEveryTask:
    @pytest.mark.parametrize("same_time", [False, True], ids=["distinct-times", "one-instant"])
    @pytest.mark.parametrize(
        "submit_every", [1, 2, 0], ids=["submit-all", "submit-half", "read-only"]
    )
    def test_each_task_once_while_results_empty_the_listing(
        self, live: Live, same_time: bool, submit_every: int
    ) -> None:
        world = live.world(23, same_time=same_time)
        seen: list[str] = []
        proxy = FaultProxy(live.base_url).start()  # only to count the requests the walk makes
        try:
            with Reten(proxy.url, live.api_key) as client:
                page = client.tasks.list(
                    status="PENDING", per_page=5, external_commerce_id=world.commerce_external_id
                )
                for n, task in enumerate(page):
                    seen.append(task.id)
                    if submit_every and n % submit_every == 0:
                        _submit(client, task.id, world.commerce_external_id)
        finally:
            proxy.stop()
        assert sorted(seen) == sorted(world.task_ids) and len(seen) == len(set(seen))
        pages = -(-23 // 5)
        requests = len(proxy.requests("GET", "/api/integration/activities/tasks"))
        # One request per page in the usual cases, about two when one instant holds many
        # tasks that stay listed (docs/decisions.md).
        assert requests <= (pages + 2 if submit_every == 1 or not same_time else 2 * pages + 2)

    def test_plain_offset_paging_would_skip_tasks(self, live: Live) -> None:
        # Why the walk exists: submitting page 1 moves page 2's tasks onto page 1.
        world = live.world(10)
        with live.client() as client:
            first = client.tasks.list(
                status="PENDING", per_page=5, external_commerce_id=world.commerce_external_id
            )
            for task in first.data:
                _submit(client, task.id, world.commerce_external_id)
            second = client.tasks.list(
                status="PENDING",
                per_page=5,
                page=2,
                external_commerce_id=world.commerce_external_id,
            )
            assert second.data == [] and second.meta.total == 5

    async def test_async_walk_submitting_every_task(self, live: Live) -> None:
        world = live.world(12, same_time=True)
        seen: list[str] = []
        async with AsyncReten(live.base_url, live.api_key) as client:
            page = await client.tasks.list(
                status="PENDING", per_page=5, external_commerce_id=world.commerce_external_id
            )
            async for task in page:
                seen.append(task.id)
                await client.results.submit(
                    activity_id=task.id, commerce_external_id=task.commerce_external_id,
                    status="NOT_EFFECTIVE", result="NOT_INTERESTED",
                )  # fmt: skip
            assert (await client.tasks.list(
                status="PENDING", external_commerce_id=world.commerce_external_id)).meta.total == 0  # fmt: skip
        assert sorted(seen) == sorted(world.task_ids)


class TestChanges:
    def test_watermark_brings_only_what_changed(self, live: Live) -> None:
        world = live.world(7)
        ours = world.commerce_external_id
        with live.client() as client:
            first = client.tasks.changes(overlap=0, external_commerce_id=ours)
            assert sorted(t.id for t in first.tasks) == sorted(world.task_ids)
            # The server's clock (its Date header) has whole seconds and is refreshed about once
            # a second: poll until it is past the tasks just written.
            newest = max(t.updated_at for t in first.tasks)
            deadline = time.monotonic() + 30
            mark = first
            while mark.watermark <= newest:
                assert time.monotonic() < deadline, "the server's clock never passed the tasks"
                time.sleep(0.5)
                mark = client.tasks.changes(
                    since=first.watermark, overlap=0, external_commerce_id=ours
                )
            empty = client.tasks.changes(since=mark.watermark, overlap=0, external_commerce_id=ours)
            assert empty.tasks == []
            _submit(client, world.task_ids[3], world.commerce_external_id)
            changed = client.tasks.changes(
                since=mark.watermark, overlap=0, external_commerce_id=ours
            )
            assert [t.id for t in changed.tasks] == [world.task_ids[3]]
            assert changed.tasks[0].status == "COMPLETED"
            assert mark.watermark <= changed.watermark <= datetime.now(UTC)

    def test_overlap_reads_recent_changes_again(self, live: Live) -> None:
        world = live.world(2)
        with live.client() as client:
            first = client.tasks.changes(external_commerce_id=world.commerce_external_id)
            again = client.tasks.changes(
                since=first.watermark, external_commerce_id=world.commerce_external_id
            )
            # Created a moment ago: within the default 5 s overlap, so they come again.
            assert sorted(t.id for t in again.tasks) == sorted(world.task_ids)


class TestEveryListFilter:
    def test_each_filter_of_tasks_list_reaches_the_server(self, live: Live) -> None:
        world = live.world(4)  # scheduled 09:00:00, :01, :02, :03 on 2030-01-01
        ours = world.commerce_external_id
        t = world.task_ids
        with live.client() as client:
            _submit(client, t[0], ours)
            client.results.submit(
                activity_id=t[1], commerce_external_id=ours, status="PENDING", result="RESCHEDULE",
                future_scheduled_at=datetime(2030, 2, 1, 10, tzinfo=UTC),
            )  # fmt: skip
            client.results.submit(
                activity_id=t[2], commerce_external_id=ours, status="NOT_EFFECTIVE",
                result="NOT_INTERESTED",
            )  # fmt: skip

            def ids(**filters: object) -> set[str]:
                page = client.tasks.list(external_commerce_id=ours, per_page=100, **filters)  # type: ignore[arg-type]
                assert page.meta.total == len(page.data)
                return {task.id for task in page.data}

            assert ids() == set(t)
            assert ids(status="COMPLETED") == {t[0], t[2]}
            assert ids(status=["PENDING", "IN_PROGRESS"]) == {t[1], t[3]}  # sent comma-separated
            assert ids(result_status="EFFECTIVE") == {t[0]}
            assert ids(result_status="NOT_EFFECTIVE") == {t[2]}
            assert ids(result_status="PENDING") == {t[1]}
            assert ids(channel="SALESMAN") == set(t) and ids(channel="CALLCENTER") == set()
            assert ids(external_operator_id=world.operator_external_id) == set(t)
            assert ids(external_operator_id=world.operator_external_id + "-other") == set()
            # Both bounds inclusive; datetimes and ISO strings alike.
            assert ids(
                scheduled_from=datetime(2030, 1, 1, 9, 0, 1, tzinfo=UTC),
                scheduled_to="2030-01-01T09:00:02Z",
            ) == {t[1], t[2]}
            assert ids(updated_since=datetime(2020, 1, 1, tzinfo=UTC)) == set(t)
            assert ids(updated_since="2100-01-01T00:00:00Z") == set()
            # The operator filter alone: this world's operator has no other tasks.
            only_operator = client.tasks.list(external_operator_id=world.operator_external_id)
            assert {task.id for task in only_operator.data} == set(t)
            second = client.tasks.list(external_commerce_id=ours, page=2, per_page=3)
            assert (second.meta.page, second.meta.limit, second.meta.total_pages) == (2, 3, 2)
            assert [task.id for task in second.data] == [t[3]]  # ordered by scheduledAt


class TestSubmitArguments:
    def test_every_argument_of_results_submit(self, live: Live) -> None:
        world = live.world(2)
        ours = world.commerce_external_id
        first, second = world.task_ids
        with live.client() as client:
            before = datetime.now(UTC) - timedelta(milliseconds=1)  # the API keeps milliseconds
            progress = client.results.submit(
                activity_id=first, commerce_external_id=ours, status="PENDING",
                result="RESCHEDULE", comment="call back on Monday",
                operator_external_id=world.operator_external_id,
                future_scheduled_at=datetime(2030, 2, 3, 15, 30, tzinfo=UTC),
            )  # fmt: skip
            # occurred_at defaults to now (the client's clock, sent in the body).
            assert before <= progress.occurred_at <= datetime.now(UTC)
            assert progress.status == "PENDING" and progress.lifecycle_status == "IN_PROGRESS"
            assert progress.task_result.future_scheduled_at == datetime(
                2030, 2, 3, 15, 30, tzinfo=UTC
            )
            assert progress.task_result.comment == "call back on Monday"
            assert progress.task_result.operator_external_id == world.operator_external_id

            at = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
            final = client.results.submit(
                activity_id=first, commerce_external_id=ours, status="EFFECTIVE",
                result="SALE_COMPLETED", occurred_at=at, idempotency_key=f"final-{first}",
            )  # fmt: skip
            assert final.occurred_at == at and final.activity_status == "COMPLETED"
            # The same key again replays the stored answer instead of a 409.
            replay = client.results.submit(
                activity_id=first, commerce_external_id=ours, status="EFFECTIVE",
                result="SALE_COMPLETED", occurred_at=at, idempotency_key=f"final-{first}",
            )  # fmt: skip
            assert replay.id == final.id
            # hard_override=False (the default) refuses a second final result; True replaces it.
            with pytest.raises(ConflictError) as caught:
                client.results.submit(
                    activity_id=first, commerce_external_id=ours, status="NOT_EFFECTIVE",
                    result="NOT_INTERESTED",
                )  # fmt: skip
            assert caught.value.result_id == final.id
            override = client.results.submit(
                activity_id=first, commerce_external_id=ours, status="NOT_EFFECTIVE",
                result="NOT_INTERESTED", hard_override=True,
            )  # fmt: skip
            assert override.id != final.id and override.lifecycle_status == "NOT_EFFECTIVE"
            # Refused before anything is sent: no id at all, or a naive datetime.
            with pytest.raises(ValueError, match="activity_id or provider_activity_id"):
                client.results.submit(
                    commerce_external_id=ours, status="EFFECTIVE", result="SALE_COMPLETED"
                )
            with pytest.raises(ValueError, match="timezone-aware"):
                _submit(client, second, ours, occurred_at=datetime(2026, 1, 1))
            assert client.tasks.list(external_commerce_id=ours, status="PENDING").meta.total == 1
