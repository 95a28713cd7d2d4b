"""`check_request`: the 400s activity creation raises before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from reten.kit.db import Database
from reten.kit.errors import ValidationFailed
from reten.resolution import service as resolution
from tests.factories import Factory
from tests.resolution.support import request


async def problems(
    db: Database, factory: Factory, prefix: str = "", **req: Any
) -> list[dict[str, str]]:
    world = await factory.world(commerces_count=0)
    async with db.sessionmaker() as session:
        try:
            await resolution.check_request(session, world.tenant_id, request(**req), prefix)
        except ValidationFailed as exc:
            assert exc.details is not None
            return exc.details
    return []


class TestCheckRequest:
    async def test_a_valid_request_passes(self, db: Database, factory: Factory) -> None:
        assert (
            await problems(
                db,
                factory,
                keys=["commerce_info", "promotions"],
                attributes=[{"key": "promotions", "value": 1}, {"key": "primary_contact"}],
                criteria=[
                    {"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": 1},
                    {"type": "ROLE_MATCH", "config": {"role": "OWNER"}, "priority": 0},
                ],
            )
            == []
        )

    async def test_an_empty_request_passes(self, db: Database, factory: Factory) -> None:
        assert await problems(db, factory) == []

    async def test_unknown_and_repeated_keys_are_named_by_position(
        self, db: Database, factory: Factory
    ) -> None:
        found = await problems(
            db,
            factory,
            keys=["commerce_info", "nope", "commerce_info"],
            attributes=[{"key": "promotions"}, {"key": "promotions"}, {"key": "Promotions"}],
        )
        assert found == [
            {"field": "attribute_keys[1]", "message": "is not a known attribute key"},
            {"field": "attribute_keys[2]", "message": "is repeated"},
            {"field": "attributes[1].key", "message": "is repeated"},
            {"field": "attributes[2].key", "message": "is not a known attribute key"},
        ]

    @pytest.mark.parametrize(
        "criteria",
        [
            [{"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": 3},
             {"type": "LAST_CONTACTED_ALL_CHANNELS", "priority": 3}],
            # The second item's default priority is its index, 1.
            [{"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": 1},
             {"type": "LAST_CONTACTED_ALL_CHANNELS"}],
        ],
    )  # fmt: skip
    async def test_criteria_priorities_must_be_distinct(
        self, db: Database, factory: Factory, criteria: list[dict[str, Any]]
    ) -> None:
        found = await problems(db, factory, criteria=criteria)
        assert found == [
            {"field": "target_criteria", "message": "criteria priorities must be distinct"}
        ]

    async def test_every_problem_is_reported_with_the_prefix(
        self, db: Database, factory: Factory
    ) -> None:
        found = await problems(
            db,
            factory,
            "items[3].",
            keys=["x"],
            attributes=[{"key": "y"}],
            criteria=[{"type": "LAST_CONTACTED_SAME_CHANNEL", "priority": 0}] * 2,
        )
        assert [d["field"] for d in found] == [
            "items[3].attribute_keys[0]",
            "items[3].attributes[0].key",
            "items[3].target_criteria",
        ]
