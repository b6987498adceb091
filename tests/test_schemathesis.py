"""Schemathesis against the published OpenAPI document (``/api``), every operation, with a
valid key: generated requests may be refused (4xx), but never answered with a server error.

Driven with hypothesis directly (schemathesis' pytest plugin does not support pytest 9).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from app.main import create_app
from core import db
from core.settings import Settings
from tests.conftest import auth


@pytest.fixture(scope="module")
def fuzz_app(demo_engine: Engine, api_login: Any) -> Iterator[Any]:
    """The service on the demo database, without the rate limit (which would turn most
    generated requests into 429s and hide the rest of the API from the fuzzer)."""
    url = demo_engine.url.render_as_string(hide_password=False)
    api = db.make_engine(api_login(url), statement_timeout_ms=5000)
    yield create_app(Settings(database_url=url, environment="test", rate_limit_per_minute=0), engine=api)
    api.dispose()


def test_no_operation_answers_with_a_server_error(fuzz_app: Any, api_keys: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/api", fuzz_app)
    headers = auth(api_keys["beheerder"])
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            fuzz()
        except Exception as exc:  # collect every failure, then report
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
