"""Schemathesis against the app's own OpenAPI: whatever is sent, never a 500."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from nurture.api import create_app
from nurture.db import upgrade
from tests.conftest import use

AUTH = {"Authorization": "Bearer test-key"}
MIN_CASES = 1000


@pytest.fixture
def api_schema(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    # Inbound Parse answers 503 while its credentials are unset (so SendGrid keeps retrying
    # until they are): configured here, the fuzzing reaches its parsing.
    use(env, monkeypatch, sendgrid_inbound_user="parse", sendgrid_inbound_password="fuzz")
    upgrade()
    return schemathesis.openapi.from_asgi("/openapi.json", create_app())


# 30 to 45 s on an idle machine; three times the suite's 120 s for a loaded one.
@pytest.mark.timeout(360)
def test_no_generated_request_gets_a_server_error(api_schema: Any) -> None:
    from schemathesis.checks import not_a_server_error

    cases = 0
    # /readyz takes no input and answers 503 by design while no worker reports (none runs
    # here): tests/api/test_readiness.py covers it.
    operations = [op.ok() for op in api_schema.get_all_operations() if op.ok().path != "/readyz"]
    assert operations, "the schema lists operations"
    for operation, mode in product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):
        # Simple operations run out of distinct inputs early; the intake takes the most.
        @settings(
            max_examples=MIN_CASES // 2,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(
                headers={**AUTH, **(case.headers or {})},
                checks=[not_a_server_error],
                excluded_checks=[positive_data_acceptance, negative_data_rejection],
            )

        try:
            run()
        except Unsatisfiable:
            continue  # no invalid input exists for an operation without parameters
    print(f"schemathesis: {cases} generated requests over {len(operations)} operations")
    assert cases >= MIN_CASES
