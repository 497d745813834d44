"""Log lines (the production envelope, issue 11): with LOG_FORMAT=json one JSON object a line;
every line of a request carries its request id (the one answered in MS-RequestId), user and
partner; one line per request and per task with path, status and duration."""

import io
import json
import logging

import pytest

from portal.logs import JsonFormatter, RequestContextFilter
from tests.portal.urls_failing import noted_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """The JSON lines the root logger writes while the test runs (the console handler's
    filter and formatter, as settings configure them for LOG_FORMAT=json)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def test_every_line_of_a_request_carries_its_id_user_and_partner(settings, json_lines, make_member, partner_a):
    settings.ROOT_URLCONF = "tests.portal.urls_failing"
    client = make_member(partner_a)
    before = len(json_lines())  # signing in logged already
    response = client.get("/chatty/")
    assert response.status_code == 200
    lines = json_lines()[before:]
    messages = [line["message"] for line in lines]
    assert "first line of the view" in messages and "second line of the view" in messages
    assert "task says from the view" in messages
    for line in lines:
        assert line["request_id"] == response["MS-RequestId"], line
        assert line["user"] == client.user.pk and line["partner"] == partner_a.mpn_id, line
        assert {"time", "level", "logger", "message"} <= set(line)
    (request_line,) = [line for line in lines if line["logger"] == "portal.request"]
    assert request_line["path"] == "/chatty/" and request_line["status"] == 200
    assert request_line["method"] == "GET" and request_line["duration_ms"] >= 0
    (task_line,) = [line for line in lines if line["logger"] == "portal.task"]
    assert task_line["task"].endswith("noted_task") and task_line["status"] == "SUCCESSFUL"
    assert task_line["duration_ms"] >= 0


def test_the_api_request_line_has_the_ms_request_id_the_caller_sent(json_lines, api_client, partner_a):
    client = api_client(partner_a)
    response = client.get("/v1/customers", headers={"MS-RequestId": "caller-chosen-id-42"})
    assert response.status_code == 200
    assert response["MS-RequestId"] == "caller-chosen-id-42"
    (request_line,) = [line for line in json_lines() if line["logger"] == "portal.request"]
    assert request_line["request_id"] == "caller-chosen-id-42"
    assert request_line["user"] == client.user.pk and request_line["partner"] == partner_a.mpn_id
    assert request_line["status"] == 200 and request_line["path"] == "/v1/customers"


def test_anonymous_and_failed_requests_are_logged_too(json_lines, client):
    response = client.get("/v1/customers")
    assert response.status_code == 401
    (line,) = [line for line in json_lines() if line["logger"] == "portal.request"]
    assert line["status"] == 401 and line["level"] == "WARNING" and line["user"] == ""
    assert line["request_id"] == response["MS-RequestId"]


def test_a_worker_task_line_carries_the_task_result_id(json_lines):
    result = noted_task.enqueue("outside a request")
    lines = json_lines()
    task_lines = [line for line in lines if line["logger"] == "portal.task"]
    assert len(task_lines) == 1 and task_lines[0]["request_id"] == str(result.id)
    said = [line for line in lines if line["message"] == "task says outside a request"]
    assert said[0]["request_id"] == str(result.id)


def test_json_is_the_format_when_log_format_says_so():
    from django.conf import settings

    assert settings.LOGGING["formatters"]["json"]["()"] == "portal.logs.JsonFormatter"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("é",), None)
    RequestContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "boom é" and line["level"] == "ERROR" and line["request_id"] == ""
