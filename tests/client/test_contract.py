"""The SDK and the receiver against the server's own definitions: the OpenAPI document for the
client models, the real dispatch serializer and signer for the receiver, and the import rule
(reten.client and reten.receiver import nothing from the server side)."""

from __future__ import annotations

import subprocess
import sys
import types
import typing
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from reten.app import create_app
from reten.client import models
from reten.config import Settings
from reten.kit.db import Database
from reten.receiver import ActivityDispatched, verify
from tests.factories import Factory

# client model -> the server's OpenAPI component it mirrors
MIRRORS: dict[type[BaseModel], str] = {
    models.Task: "TaskItemRead",
    models.CodeLabel: "CodeLabel",
    models.PageMeta: "PageMeta",
    models.SubmittedResult: "ResultRead",
    models.TaskResult: "TaskResultRead",
    models.ResultType: "ResultTypeConfigRead",
    models.SyncResult: "SyncResultRead",
    models.BatchResult: "BatchCreatedRead",
    models.BatchItem: "BatchItemRead",
}
# The management activity (create and get) and what it nests: the same names, checked apart
# because the server's schema declares some fields nullable whose columns are NOT NULL, and the
# client keeps them non-optional (`activity.reason.code` needs no None check).
ACTIVITY_TREE: dict[type[BaseModel], str] = {
    models.Activity: "ActivityDetailRead",
    models.CodeLabel: "CodeLabelRead",
    models.CommerceAssignment: "CommerceAssignmentRead",
    models.TaskDetails: "TaskDetailsRead",
    models.NamedRef: "RefRead",
    models.OperatorRef: "OperatorRefRead",
    models.DispatchState: "DispatchStateRead",
    models.ActivityResult: "ActivityResultRead",
    models.StatusEvent: "StatusEventRead",
    models.Actor: "ActorRead",
}
# (model, wire name): nullable on the server, never null in what it stores
NON_NULL_IN_FACT = {
    (models.Activity, "reason"), (models.Activity, "scheduledAt"),
    (models.Activity, "idempotencyKey"), (models.StatusEvent, "actor"),
    (models.ActivityResult, "createdBy"), (models.OperatorRef, "type"),
}  # fmt: skip
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str, datetime),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "number": (float, int),
}


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", run_dispatcher=False))
    return app.openapi()["components"]["schemas"]  # type: ignore[no-any-return]


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return prop.get("anyOf", [prop])


def _python_types(annotation: Any) -> set[Any]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return {t for arg in typing.get_args(annotation) for t in _python_types(arg)}
    origin = typing.get_origin(annotation)
    return {origin or annotation}


class TestClientModelsMatchTheOpenAPI:
    @pytest.mark.parametrize("model", list(MIRRORS), ids=lambda m: m.__name__)
    def test_fields_names_nullability_and_types(
        self, model: type[BaseModel], schemas: dict[str, Any]
    ) -> None:
        schema = schemas[MIRRORS[model]]
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        assert set(fields) == set(schema["properties"]), MIRRORS[model]
        for name, prop in schema["properties"].items():
            allowed = _python_types(fields[name].annotation)
            options = _options(prop)
            nullable = any(o.get("type") == "null" for o in options)
            assert (type(None) in allowed) == nullable, f"{model.__name__}.{name} nullability"
            for option in options:
                if "$ref" in option:
                    target = option["$ref"].rsplit("/", 1)[-1]
                    assert str in allowed or any(
                        isinstance(t, type)
                        and issubclass(t, BaseModel)
                        and MIRRORS.get(t) == target
                        for t in allowed
                    ), f"{model.__name__}.{name} -> {target}"
                elif option.get("type") in JSON_TYPES:
                    assert allowed & set(JSON_TYPES[option["type"]]), f"{model.__name__}.{name}"


class TestManagementModels:
    @pytest.mark.parametrize("model", list(ACTIVITY_TREE), ids=lambda m: m.__name__)
    def test_names_and_nullability(self, model: type[BaseModel], schemas: dict[str, Any]) -> None:
        schema = schemas[ACTIVITY_TREE[model]]
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        assert set(fields) == set(schema["properties"]), ACTIVITY_TREE[model]
        for name, prop in schema["properties"].items():
            nullable = any(o.get("type") == "null" for o in _options(prop))
            optional = type(None) in _python_types(fields[name].annotation)
            if (model, name) in NON_NULL_IN_FACT:
                assert nullable and not optional, f"{model.__name__}.{name}: update the list"
            elif nullable:
                assert optional, f"{model.__name__}.{name} may be null"


class TestImports:
    def test_client_and_receiver_import_nothing_from_the_server_side(self) -> None:
        code = (
            "import sys, reten.client, reten.receiver\n"
            "server = ('fastapi', 'starlette', 'sqlalchemy', 'alembic', 'structlog', 'typer',\n"
            "          'uvicorn', 'jinja2', 'asyncpg', 'aiosqlite', 'argon2', 'jwt')\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in server\n"
            "             or (m.startswith('reten.') and not m.startswith(('reten.client', 'reten.receiver'))))\n"
            "print(','.join(bad))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == ""


class TestReceiverAgainstTheServerSigner:
    async def test_a_real_delivery_verifies_and_parses_completely(
        self, factory: Factory, db: Database
    ) -> None:
        from reten.activities.models import Activity
        from reten.dispatch import payload as payloads
        from reten.dispatch.providers.base import DeliveryConfig
        from reten.dispatch.providers.webhook import WebhookProvider, new_signing_secret

        world = await factory.world()
        activity_id = await factory.task(world)
        async with db.sessionmaker() as session:
            activity = await session.get(Activity, activity_id)
            assert activity is not None
            built = await payloads.load_payloads(session, [activity], "https://reten.example")
        old, new = new_signing_secret(), new_signing_secret()
        request = WebhookProvider().build_request(
            built[activity_id],
            DeliveryConfig(
                base_url="https://hooks.example/in", credentials={}, signing_secrets=(new, old)
            ),
            message_id=payloads.message_id(activity_id),
        )
        for secret in (new, old, [new_signing_secret(), old]):
            event = verify(request.body, request.headers, secret)
            assert isinstance(event, ActivityDispatched)
        assert event.webhook_id == f"msg_{activity_id.hex}" and event.data.id == str(activity_id)
        assert event.data.commerce.external_id == world.commerce_external_ids[0]
        assert event.data.operator is not None and event.data.operator.external_id == "OP-17"
        assert event.data.result_callback.url.endswith("/api/integration/activity-results/tasks")

        # Every field the server sends is a declared field of the typed event, at every level.
        def no_extra(model: BaseModel) -> None:
            assert not model.model_extra, f"{type(model).__name__}: {model.model_extra}"
            for value in model.__dict__.values():
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, BaseModel):
                        no_extra(item)

        no_extra(event)
