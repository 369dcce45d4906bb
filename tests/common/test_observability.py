"""The request id, the probes answered before the host check, and JSON log lines."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from django.test import Client

from tracker.common.logs import JsonFormatter, request_id_var
from tracker.common.observability import request_id_accept


@pytest.mark.once
def test_healthz_answers_on_any_host_and_echoes_a_sane_request_id():
    response = Client(HTTP_HOST="10.1.2.3:8000").get("/healthz", HTTP_X_REQUEST_ID="probe-1")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert response["X-Request-ID"] == "probe-1"


@pytest.mark.once
def test_request_ids():
    assert request_id_accept("abc-DEF_1.2") == "abc-DEF_1.2"
    for bad in (None, "", "x" * 65, "a b", "new\nline", "<script>"):
        fresh = request_id_accept(bad)
        assert len(fresh) == 32 and fresh != bad


@pytest.mark.once
def test_json_lines():
    formatter = JsonFormatter()
    token = request_id_var.set("req-42")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.LogRecord(
                "tracker.x", logging.ERROR, __file__, 1, "failed %s", ("once",), sys.exc_info()
            )
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "tracker.x"
    assert data["message"] == "failed once" and data["request_id"] == "req-42"
    assert "ValueError: boom" in data["exception"]
    assert data["time"].endswith("+00:00")
    plain = json.loads(formatter.format(logging.makeLogRecord({"msg": "hi"})))
    assert "request_id" not in plain and "task_id" not in plain
