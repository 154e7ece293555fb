"""Property-based fuzzing of the OpenAPI schema: no input may cause a server error.

Every operation of the live server's schema gets valid (positive) and invalid
(negative) generated requests, sent as a committee member, an analyst, an advisor and
with no token at all (on PostgreSQL too: ``test_postgres``).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.serving.conftest import Api

EXAMPLES = 15


def test_no_request_causes_a_server_error(api: Api) -> None:
    operations, fuzzed_negative = fuzz(api.url, {r: api.tokens[r] for r in ROLES}, EXAMPLES)
    assert operations >= 9
    assert fuzzed_negative >= operations - 2


ROLES = ("committee", "analyst", "advisor")


def fuzz(url: str, tokens: dict[str, str], examples: int) -> tuple[int, int]:
    """Every operation of the server's schema, with valid and invalid generated requests,
    sent with each token and with none; fails on any server error. Returns the number of
    operations and how many of them had invalid requests to make."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed_negative = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: schemathesis.Case) -> None:
                for token in [*tokens.values(), None]:
                    case.call_and_validate(
                        base_url=url,
                        checks=[not_a_server_error],
                        headers={"Authorization": f"Bearer {token}"} if token else {},
                    )

            try:
                call()
            except Unsatisfiable:
                # An operation without inputs (GET /health) has no invalid request to make.
                if mode is GenerationMode.POSITIVE:
                    raise
                continue
            fuzzed_negative += mode is GenerationMode.NEGATIVE
    return len(operations), fuzzed_negative
