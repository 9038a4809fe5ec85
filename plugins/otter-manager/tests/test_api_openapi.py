"""The committed OpenAPI document is the app's, and every API endpoint is exercised by some test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from otter_manager.openapi import openapi_document

TESTS = Path(__file__).parent
# The repo's copy (otter_manager.openapi.DEFAULT_FILE points there only from the source tree; the
# tests run against the installed wheel).
COMMITTED = TESTS.parents[2] / "docs" / "manager-openapi.json"


@pytest.fixture(scope="module")
def document():
    return openapi_document()


def test_committed_openapi_document_is_up_to_date(document):
    committed = json.loads(COMMITTED.read_text())
    assert committed == document, (
        "docs/manager-openapi.json is stale: run `python -m otter_manager.openapi` and commit the file"
    )


def test_openapi_document_describes_login_csrf_and_errors(document):
    assert "X-CSRF-Token" in document["info"]["description"]
    create = document["paths"]["/api/sources"]["post"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(create["responses"])
    assert document["paths"]["/api/config/import"]["post"]["requestBody"]["content"]["application/yaml"]


def _called_in_tests(method: str, path: str, sources: str) -> bool:
    pattern = re.escape(path)
    pattern = re.sub(r"\\\{[^}]+\\\}", r"(\\{[^}]+\\}|%d|%s|\\d+)", pattern)
    call = rf"\.{method}\(\s*f?[\"']{pattern}[\"'?]"
    return re.search(call, sources) is not None


def test_every_api_endpoint_is_called_by_a_test(document):
    sources = "\n".join(p.read_text() for p in TESTS.glob("test_*.py"))
    missing = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if path.startswith("/api/") and not _called_in_tests(method, path, sources)
    ]
    assert missing == [], (
        f'endpoints no test in plugins/otter-manager/tests calls (client.<method>("<path>")): {missing}'
    )
