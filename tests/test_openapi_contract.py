"""The OpenAPI document is a contract generated clients and the fuzzer rely on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from reten.activities.models import Channel
from reten.kit.errors import ERROR_RESPONSES
from reten.kit.pagination import MAX_PER_PAGE

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


class TestOpenAPIDocument:
    def test_every_operation_documents_every_error_status_with_the_error_body(
        self, spec: dict[str, Any]
    ) -> None:
        missing = [
            f"{method} {path}: {status}"
            for method, path, op in _operations(spec)
            for status in ERROR_RESPONSES
            if op["responses"]
            .get(str(status), {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
            .get("$ref")
            != "#/components/schemas/ErrorBody"
        ]
        assert missing == []

    def test_every_json_success_has_a_response_schema(self, spec: dict[str, Any]) -> None:
        bare = [
            f"{method} {path}: {status}"
            for method, path, op in _operations(spec)
            for status, response in op["responses"].items()
            if status.startswith("2")
            and "application/json" in response.get("content", {})
            and not response["content"]["application/json"].get("schema")
        ]
        assert bare == []

    def test_component_names_are_unique_and_plain(self, spec: dict[str, Any]) -> None:
        # FastAPI qualifies a name with its module when two models share it: a generated client
        # then drops every operation that refers to either.
        qualified = [name for name in spec["components"]["schemas"] if name.startswith("reten__")]
        assert qualified == []


def _parameters(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method} {path} {p['in']}:{p['name']}", p)
        for method, path, op in _operations(spec)
        for p in op.get("parameters", [])
    ]


class TestParameterTypes:
    """Parameters are parsed by the API itself (its own 400 messages) but declare their types."""

    def test_every_path_id_is_a_uuid(self, spec: dict[str, Any]) -> None:
        wrong = [
            where
            for where, p in _parameters(spec)
            if p["in"] == "path" and p["name"] != "role" and p["schema"].get("format") != "uuid"
        ]
        assert wrong == []

    def test_pages_and_page_sizes_are_bounded_integers(self, spec: dict[str, Any]) -> None:
        sizes = [p for _, p in _parameters(spec) if p["name"] in ("per_page", "limit")]
        pages = [p for _, p in _parameters(spec) if p["name"] == "page"]
        assert len(pages) >= 9 and len(sizes) == 2 * len(pages)
        for p in pages:
            assert (p["schema"]["type"], p["schema"]["minimum"]) == ("integer", 1)
        for p in sizes:
            assert (p["schema"]["type"], p["schema"]["maximum"]) == ("integer", MAX_PER_PAGE)

    def test_times_flags_and_ids_in_queries_carry_their_format(self, spec: dict[str, Any]) -> None:
        expected = {
            ("scheduled_from", "format"): "date-time",
            ("occurred_to", "format"): "date-time",
            ("updated_since", "format"): "date-time",
            ("route_id", "format"): "uuid",
            ("activity_id", "format"): "uuid",
            ("is_active", "type"): "boolean",
            ("include_superseded", "type"): "boolean",
        }
        seen = {
            (p["name"], key): p["schema"].get(key)
            for _, p in _parameters(spec)
            for (name, key) in expected
            if p["name"] == name
        }
        assert seen == expected

    def test_enums_list_their_values_and_lists_their_spelling(self, spec: dict[str, Any]) -> None:
        params = dict(_parameters(spec))
        tasks = "GET /api/integration/activities/tasks query:"
        assert params[tasks + "channel"]["schema"]["enum"] == [c.value for c in Channel]
        pattern = params[tasks + "status"]["schema"]["pattern"]
        assert re.fullmatch(pattern, "PENDING,COMPLETED")
        assert not re.fullmatch(pattern, "PENDING,DONE")
        assert not re.fullmatch(pattern, "")
        assert params[tasks + "result_status"]["schema"]["enum"] == [
            "EFFECTIVE",
            "NOT_EFFECTIVE",
            "PENDING",
        ]


class TestGeneratedClient:
    def test_openapi_python_client_generates_without_warnings(
        self, spec: dict[str, Any], tmp_path: Path
    ) -> None:
        document = tmp_path / "openapi.json"
        document.write_text(json.dumps(spec))
        bin_dir = Path(sys.executable).parent
        done = subprocess.run(
            [
                str(bin_dir / "openapi-python-client"), "generate",
                "--path", str(document), "--meta", "none",
                "--output-path", str(tmp_path / "client"),
            ],
            # Its post-generation hooks call ruff, installed beside it.
            env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert "Warning" not in output and "WARNING" not in output, output
        assert (tmp_path / "client" / "api").is_dir()
