"""Schemathesis against the backend's own OpenAPI document, signed in as an admin: valid and
invalid requests to every operation never get a 5xx, and every answer matches its documented
schema. Bounded example counts keep it within the regular test run."""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.backend.stack import ADMIN, Backend, bearer

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}


def fuzz_operations(document: dict[str, Any], base_url: str) -> tuple[int, list[str]]:
    """Run every operation's cases over HTTP; answer the number of calls and the failures."""
    schema = schemathesis.openapi.from_dict(document)
    headers = bearer(ADMIN)
    calls = 0
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here, as it should
        if operation.path.endswith("/events"):
            continue  # event streams never end; tests/backend covers them
        for mode, count in EXAMPLES.items():

            @settings(
                max_examples=count,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: Any) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=base_url, headers=headers, timeout=15)
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )

            try:
                exercise()
            except Unsatisfiable:
                continue  # no parameters to get wrong: nothing negative to send
            except Exception as error:  # one line per failing operation, then carry on
                first = str(error).strip().splitlines()[:6]
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {first}"
                )
    return calls, failures


async def test_every_operation_holds_under_generated_requests(backend: Backend) -> None:
    async with backend.client(ADMIN) as http:
        document = (await http.get("/openapi.json")).json()
    calls, failures = await asyncio.to_thread(fuzz_operations, document, backend.url)
    assert calls > 100
    assert not failures, "\n".join(failures)
