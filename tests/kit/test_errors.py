"""The standard error body and shared transport rules (management-api.md §1.1, §1.6)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import httpx
import orjson

from reten.app import create_app
from reten.config import Settings
from reten.kit.jsonbody import MAX_ARRAY_ITEMS

MIB = 1024 * 1024
LOGIN = "/api/auth/login"
JSON = {"content-type": "application/json"}


def _nested(levels: int, leaf: Any) -> Any:
    """`levels` objects nested inside each other, the innermost holding `leaf`."""
    value: Any = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def _assert_standard(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["statusCode"] == status
    assert body["error"] == HTTPStatus(status).phrase
    assert isinstance(body["message"], str) and body["message"]
    return body  # type: ignore[no-any-return]


def _login_body_of_size(size: int) -> bytes:
    base = {"identifier": "nobody@example.com", "password": "wrong-password", "pad": ""}
    overhead = len(orjson.dumps(base))
    base["pad"] = "x" * (size - overhead)
    raw = orjson.dumps(base)
    assert len(raw) == size
    return raw


class TestRoutingErrors:
    async def test_unknown_route_is_404_with_the_standard_body(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/api/does-not-exist")

        _assert_standard(response, 404)
        assert set(response.json()) == {"statusCode", "error", "message"}

    async def test_unknown_route_outside_the_api_is_404_too(
        self, client: httpx.AsyncClient
    ) -> None:
        _assert_standard(await client.post("/nothing/here", json={}), 404)

    async def test_wrong_method_on_a_known_route_is_405(self, client: httpx.AsyncClient) -> None:
        response = await client.get(LOGIN)

        _assert_standard(response, 405)
        assert set(response.json()) == {"statusCode", "error", "message"}

    async def test_delete_on_a_get_route_is_405(self, client: httpx.AsyncClient) -> None:
        _assert_standard(await client.delete("/api/auth/me"), 405)


class TestJsonBody:
    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(LOGIN, content=b'{"identifier": "a@b.c", ', headers=JSON)

        assert response.status_code == 400
        assert response.json() == {
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Malformed JSON body",
        }

    async def test_body_that_is_not_utf8_is_malformed(self, client: httpx.AsyncClient) -> None:
        response = await client.post(LOGIN, content=b'{"identifier": "\xff\xfe"}', headers=JSON)

        assert response.status_code == 400
        assert response.json()["message"] == "Malformed JSON body"

    async def test_json_array_body_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            LOGIN, content=b'[{"identifier": "a@b.c", "password": "12345678"}]', headers=JSON
        )

        assert response.status_code == 400
        assert response.json()["message"] == "Malformed JSON body"

    async def test_json_scalar_body_is_400(self, client: httpx.AsyncClient) -> None:
        for raw in (b'"text"', b"42", b"null", b"true"):
            response = await client.post(LOGIN, content=raw, headers=JSON)
            assert response.status_code == 400, raw
            assert response.json()["message"] == "Malformed JSON body", raw

    async def test_endpoint_without_body_ignores_one(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/auth/logout", content=b"this is not json", headers=JSON)

        assert response.status_code == 200
        assert response.json() == {"message": "Logged out successfully"}

    async def test_nesting_deeper_than_32_levels_is_400(self, client: httpx.AsyncClient) -> None:
        body = {
            "identifier": "nobody@example.com",
            "password": "wrong-password",
            "pad": _nested(32, {}),
        }

        response = await client.post(LOGIN, json=body)  # 1 + 32 + the empty object = 34 levels

        assert "details" not in _assert_standard(response, 400)

    async def test_33_nested_objects_are_refused(self, client: httpx.AsyncClient) -> None:
        body = {
            "identifier": "nobody@example.com",
            "password": "wrong-password",
            "pad": _nested(31, {}),
        }

        response = await client.post(LOGIN, json=body)  # 1 + 31 + the empty object = 33 levels

        _assert_standard(response, 400)

    async def test_hostile_nesting_is_refused_without_a_server_error(
        self, client: httpx.AsyncClient
    ) -> None:
        raw = b'{"a":' * 5000 + b"1" + b"}" * 5000

        response = await client.post(LOGIN, content=raw, headers=JSON)

        assert response.status_code == 400

    async def test_exactly_32_nested_objects_are_accepted(self, client: httpx.AsyncClient) -> None:
        body = {
            "identifier": "nobody@example.com",
            "password": "wrong-password",
            "pad": _nested(30, {}),
        }

        response = await client.post(LOGIN, json=body)  # 1 + 30 + the empty object = 32 levels

        # Past the body checks, the login itself fails.
        assert response.status_code == 401

    async def test_32_nested_objects_holding_a_scalar_are_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        # A scalar is not a nesting level: 32 objects deep is 32 levels, whatever they hold.
        body = {
            "identifier": "nobody@example.com",
            "password": "wrong-password",
            "pad": _nested(31, 1),
        }

        response = await client.post(LOGIN, json=body)

        assert response.status_code == 401, response.text

    async def test_an_array_of_more_than_10_000_items_is_refused_anywhere_in_a_body(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {
            "identifier": "nobody@example.com",
            "password": "wrong-password",
            "pad": {"deep": [0] * (MAX_ARRAY_ITEMS + 1)},
        }

        response = await client.post(LOGIN, json=body)

        assert str(MAX_ARRAY_ITEMS) in _assert_standard(response, 400)["message"]

    async def test_an_array_of_exactly_10_000_items_passes_the_body_checks(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {
            "identifier": "nobody@example.com",
            "password": "wrong-password",
            "pad": [0] * MAX_ARRAY_ITEMS,
        }

        response = await client.post(LOGIN, json=body)

        assert response.status_code == 401, response.text


class TestBodySize:
    async def test_body_over_one_mib_is_413(self, client: httpx.AsyncClient) -> None:
        response = await client.post(LOGIN, content=_login_body_of_size(MIB + 1), headers=JSON)

        body = _assert_standard(response, 413)
        assert set(body) == {"statusCode", "error", "message"}
        assert response.headers["x-request-id"]

    async def test_body_of_exactly_one_mib_is_accepted(self, client: httpx.AsyncClient) -> None:
        response = await client.post(LOGIN, content=_login_body_of_size(MIB), headers=JSON)

        assert response.status_code == 401

    async def test_streamed_body_without_length_is_capped_too(
        self, client: httpx.AsyncClient
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"identifier": "nobody@example.com", "password": "wrong-password", "pad": "'
            for _ in range(9):
                yield b"x" * (128 * 1024)
            yield b'"}'

        response = await client.post(LOGIN, content=chunks(), headers=JSON)

        assert "content-length" not in response.request.headers
        _assert_standard(response, 413)


class TestRequestId:
    async def test_valid_request_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/health", headers={"x-request-id": "trace-42/abc:XYZ"})

        assert response.headers["x-request-id"] == "trace-42/abc:XYZ"

    async def test_request_id_of_128_characters_is_echoed(self, client: httpx.AsyncClient) -> None:
        value = "r" * 128

        response = await client.get("/api/health", headers={"x-request-id": value})

        assert response.headers["x-request-id"] == value

    async def test_request_id_is_echoed_on_errors(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/nope", headers={"x-request-id": "err-trace-1"})

        assert response.status_code == 404
        assert response.headers["x-request-id"] == "err-trace-1"

    async def test_missing_request_id_is_generated_as_a_uuid(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await client.get("/api/health")
        second = await client.get("/api/health")

        uuid.UUID(first.headers["x-request-id"])
        uuid.UUID(second.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    async def test_invalid_request_ids_are_replaced_by_a_uuid(
        self, client: httpx.AsyncClient
    ) -> None:
        for value in ("r" * 129, b"caf\xc3\xa9", "tab\there", ""):
            response = await client.get("/api/health", headers={"x-request-id": value})
            generated = response.headers["x-request-id"]
            uuid.UUID(generated)
            assert generated != value

    async def test_request_id_with_an_inner_space_is_printable_ascii_and_echoed(
        self, client: httpx.AsyncClient
    ) -> None:
        # §1.1: 1–128 printable ASCII characters; the space (0x20) is printable ASCII.
        response = await client.get("/api/health", headers={"x-request-id": "job 42"})

        assert response.headers["x-request-id"] == "job 42"


class TestServerError:
    @staticmethod
    def _crashing_app(settings: Settings) -> Any:
        app = create_app(settings)

        async def boom() -> None:
            raise RuntimeError("secret internal detail: password=hunter2")

        app.add_api_route("/api/test-boom", boom, methods=["GET"])
        return app

    async def test_unhandled_exception_is_500_with_request_id_and_nothing_internal(
        self, settings: Settings
    ) -> None:
        transport = httpx.ASGITransport(
            app=self._crashing_app(settings), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            response = await c.get("/api/test-boom", headers={"x-request-id": "crash-1"})

        assert response.status_code == 500
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {
            "statusCode": 500,
            "error": "Internal Server Error",
            "message": "Internal server error",
            "requestId": "crash-1",
        }
        assert response.headers["x-request-id"] == "crash-1"
        for leak in (
            "Traceback",
            "RuntimeError",
            "secret internal detail",
            "hunter2",
            "test_errors",
        ):
            assert leak not in response.text

    async def test_generated_request_id_is_the_one_in_the_body(self, settings: Settings) -> None:
        transport = httpx.ASGITransport(
            app=self._crashing_app(settings), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            response = await c.get("/api/test-boom")

        assert response.status_code == 500
        request_id = response.json()["requestId"]
        uuid.UUID(request_id)
        assert response.headers["x-request-id"] == request_id


class TestNulCharacters:
    async def test_nul_in_a_body_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/auth/login",
            content=b'{"identifier": "a\\u0000b@example.com", "password": "whatever-123"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"field": "identifier", "message": "must not contain NUL characters"}
        ]

    async def test_nul_in_a_query_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/integration/activities/tasks?external_commerce_id=a%00b")
        assert response.status_code == 400 and response.json()["statusCode"] == 400
