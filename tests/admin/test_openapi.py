"""The running admin API against its own OpenAPI document, with schemathesis (in-process).

Every operation gets a bounded number of generated requests, valid and invalid, sent with a
token holding every scope: no answer may be a 5xx, and every answer — status, content type,
headers, body — must be one the document describes; invalid requests must be refused (4xx).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ssomw.admin.openapi import openapi_document
from ssomw.config import from_text
from ssomw.wsgi import Gateway

from .conftest import API, TOKENS, config_with

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
DOCUMENT = openapi_document("/sso")
OPERATIONS = [pytest.param(path, method.upper(), mode, id=f"{method.upper()} {path} {mode.value}")
              for path, item in DOCUMENT["paths"].items() for method, spec in item.items()
              for mode in GenerationMode
              # with no parameters and no body there is no invalid request to make
              if mode is GenerationMode.POSITIVE or "parameters" in spec
              or "requestBody" in spec]
AUTH = {"Authorization": f"Bearer {TOKENS['all'][0]}"}


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    stack = Gateway(from_text(yaml.safe_dump(config_with(tmp_path))))

    def from_loopback(environ: dict[str, Any], start_response: Any) -> Any:
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")  # werkzeug's test client sets none
        return stack(environ, start_response)

    yield schemathesis.openapi.from_wsgi(f"{API}/openapi.json", from_loopback)
    stack.store.close()


@pytest.mark.parametrize("path, method, mode", OPERATIONS)
def test_operation_matches_the_document(api_schema, path: str, method: str,
                                        mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    statuses: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        statuses.add(case.call_and_validate(headers=AUTH, checks=CHECKS).status_code)

    check()
    assert statuses - {401, 403}, "every request was refused before reaching the operation"
