"""Schemathesis over the served OpenAPI schema: no server errors, every answer as documented.

Every operation is driven with generated valid and invalid input, once as an anonymous client
and once with a staff token. Operations that revoke a token are given a token of their own, so
the run never revokes the one it uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings

from config.wsgi import application
from tests.factories import metric_create, records_add
from tests.fakes.kraken import FakeKraken
from tracker.accounts.services import token_authenticate, token_issue
from tracker.common.clock import utc_now
from tracker.markets.models import Metric, Pair
from tracker.markets.services import exchange_get_or_create

pytestmark = [pytest.mark.once, pytest.mark.django_db]

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.negative_data_rejection,
]
REVOKING = {("DELETE", "/api/v1/auth/token"), ("DELETE", "/api/v1/auth/tokens/{token_id}")}


@pytest.fixture(autouse=True)
def _connections_kept_open() -> Iterator[None]:
    """As Django's test client does: the request cycle must not close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_key(db: None, kraken: FakeKraken) -> str:
    """Data to read (two pairs with records) and a staff token to read and write it with.
    The exchange is the stand-in: adding a pair asks it for its markets."""
    exchange_get_or_create(name="kraken", base_url=kraken.url)
    end = utc_now() - timedelta(seconds=30)
    for symbol in ("BTC/USD", "ETH/USD"):
        records_add(metric_create(symbol), [1.0, 2.0, 4.0, 3.0], end=end)
    staff = User.objects.create_user("st", password="staff passphrase 9", is_staff=True)
    return token_issue(user=staff, now=utc_now()).key


# The live stream never ends, so no example of it could: its answers and errors are checked
# over a real server in tests/live/test_stream.py.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application).exclude(
    path="/api/v1/stream"
)
GENERATION = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def aim_at_stored_objects(case: Any) -> None:
    """Point generated ids at stored objects, so the checks reach past the 404 for most cases."""
    stored = {
        "metric_id": list(Metric.objects.values_list("id", flat=True)),
        "pair_id": list(Pair.objects.values_list("id", flat=True)),
    }
    for name, value in (case.path_parameters or {}).items():
        if stored.get(name) and isinstance(value, int) and value % 4:  # keep some unknown ids
            case.path_parameters[name] = stored[name][value % len(stored[name])]


@schema.parametrize()
@GENERATION
def test_anonymous(case: Any, staff_key: str) -> None:
    aim_at_stored_objects(case)
    case.validate_response(case.call(), checks=CHECKS)


@schema.parametrize()
@GENERATION
def test_with_a_staff_token(case: Any, staff_key: str) -> None:
    aim_at_stored_objects(case)
    key = staff_key
    if (case.method.upper(), case.path) in REVOKING:
        # Another user's token: revoking "token 1" must not be able to hit the staff token.
        other, _ = User.objects.get_or_create(username="revoker")
        key = token_issue(user=other, now=utc_now()).key
    headers = {"Authorization": f"Bearer {key}"}
    # Every example starts from the same data: one that purges a pair must not empty the rest.
    savepoint = transaction.savepoint()
    try:
        case.validate_response(case.call(headers=headers), checks=CHECKS)
    finally:
        transaction.savepoint_rollback(savepoint)
    assert token_authenticate(key=staff_key, now=utc_now()) is not None


class StatefulRun(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of calls along the links between operations (an id from one answer used in the
    next), all with the staff token, each chain rolled back after it. The chain from
    `GET /auth/tokens` to its `DELETE` would revoke that token: such calls are pointed at a
    spare token of the same user instead."""

    key = ""

    def setup(self) -> None:
        # Each chain starts from the same data: a purge in one chain must not change what the
        # next one draws (hypothesis replays chains and needs them to draw alike).
        self.savepoint = transaction.savepoint()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        key = self.key
        if (case.method.upper(), case.path) in REVOKING:
            spare = token_issue(user=User.objects.get(username="st"), now=utc_now())
            key = spare.key
            if "token_id" in (case.path_parameters or {}):
                owned = token_authenticate(key=self.key, now=utc_now())
                if owned is not None and case.path_parameters["token_id"] == owned.id:
                    case.path_parameters["token_id"] = spare.token.id
        return {"headers": {"Authorization": f"Bearer {key}"}}

    def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
        case.validate_response(response, checks=CHECKS)


def test_stateful_chains(staff_key: str) -> None:
    StatefulRun.key = staff_key
    StatefulRun.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    assert token_authenticate(key=staff_key, now=utc_now()) is not None
