"""The running admin API against its own OpenAPI document, with schemathesis (in-process).

Every operation gets a bounded number of generated requests, valid and invalid, sent with a
token holding every scope, plus schemathesis' deterministic coverage cases (boundary values,
each required header left out, methods the document does not list, OPTIONS): no answer may be
a 5xx, and every answer — status, content type, headers, body — must be one the document
describes; invalid requests must be refused (4xx), valid ones accepted, a missing required
header refused, an unlisted method answered 405 with ``Allow``, and ``Allow`` must list exactly
the documented methods (issue 17 item 7).

What a schema cannot say is configured below, each with its reason: 412 (``If-Match`` must name
the active version: no document can know it) for every operation, and 422 for the operations
that take a whole configuration (the ``Config`` schema is an object; the configuration's own
JSON Schema at ``/schema`` and its cross-field rules decide), and 428 for a missing
``If-Match`` (RFC 6585's status for exactly that).
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
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from ssomw.admin.openapi import openapi_document
from ssomw.config import from_text
from ssomw.wsgi import Gateway

from .conftest import API, TOKENS, config_with

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance, missing_required_header, unsupported_method,
          allow_header_conformance]
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
STRICT = SchemathesisConfig.from_dict({
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED},
               "missing_required_header": {"expected-statuses": [400, 401, 403, 406, 415,
                                                                 422, 428]}},
    "operations": [{"include-path-regex": "^/config($|/import|/preview|/rollback)",
                    "checks": {"positive_data_acceptance": {
                        "expected-statuses": [*ACCEPTED, "422"]}}}],
})
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

    yield schemathesis.openapi.from_wsgi(f"{API}/openapi.json", from_loopback, config=STRICT)
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


COVERED = sorted({(path, method.upper()) for path, item in DOCUMENT["paths"].items()
                  for method in item})


@pytest.mark.parametrize(("path", "method"), [pytest.param(p, m, id=f"{m} {p}")
                                              for p, m in COVERED])
def test_coverage_cases_match_the_document(api_schema, path: str, method: str) -> None:
    """Schemathesis' coverage phase: deterministic edge cases of every parameter and body,
    each required header missing, and methods the document does not list (QUERY, OPTIONS)."""
    operation = api_schema[path][method]
    cases = list(api_schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode),
        generation_config=api_schema.config.generation_for(operation=operation)))
    assert cases
    failures = []
    for case in cases:
        try:
            case.call_and_validate(headers=AUTH, checks=CHECKS)
        except Exception as exc:  # noqa: BLE001 - collected, reported together
            failures.append(str(exc).split("Reproduce with")[0][:600])
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup
            failures.append(str(group).split("Reproduce with")[0][:600])
    assert not failures, "\n\n".join(failures[:5])
