"""The OpenAPI document is a contract generated clients and the fuzzer rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from reten.kit.errors import ERROR_RESPONSES

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
