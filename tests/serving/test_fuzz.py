"""Property-based fuzzing of the OpenAPI schema: no input may cause a server error.

Every operation of the live server's schema gets valid (positive) and invalid
(negative) generated requests, sent as a committee member, an analyst, an advisor and
with no token at all.
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
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    fuzzed_negative = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: schemathesis.Case) -> None:
                for role in ("committee", "analyst", "advisor", None):
                    case.call_and_validate(
                        base_url=api.url,
                        checks=[not_a_server_error],
                        headers={"Authorization": f"Bearer {api.tokens[role]}"} if role else {},
                    )

            try:
                call()
            except Unsatisfiable:
                # An operation without inputs (GET /health) has no invalid request to make.
                if mode is GenerationMode.POSITIVE:
                    raise
                continue
            fuzzed_negative += mode is GenerationMode.NEGATIVE
    assert fuzzed_negative >= len(operations) - 2
