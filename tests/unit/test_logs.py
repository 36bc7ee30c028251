"""Logging: JSON lines on stderr, stable event names, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from netterms_daemon.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put logging back as it was, so later tests do not write into our streams."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_logs_json_lines_with_event_and_context() -> None:
    """Off a terminal each event is one JSON object with its name and fields."""
    stream = io.StringIO()
    configure_logging("info", "auto", stream=stream)

    structlog.get_logger("t").info("daemon.started", port=8080)

    (line,) = lines(stream)
    assert line["event"] == "daemon.started"
    assert line["port"] == 8080
    assert line["level"] == "info"
    assert "timestamp" in line


def test_logs_level_filters() -> None:
    """Below the configured level nothing is written."""
    stream = io.StringIO()
    configure_logging("warning", "json", stream=stream)

    structlog.get_logger("t").info("quiet.event")
    structlog.get_logger("t").warning("loud.event")

    assert [line["event"] for line in lines(stream)] == ["loud.event"]


def test_logs_secrets_masked_by_key_value_and_url() -> None:
    """Token-like keys, known secret values and URL passwords never reach the log."""
    stream = io.StringIO()
    configure_logging("info", "json", secrets=["hunter2-token"], stream=stream)

    structlog.get_logger("t").info(
        "client.request",
        access_token="abc",
        note="sent hunter2-token to the store",
        url="postgresql://app:pa55word@db:5432/netterms",
        headers={"X-Auth-Token": "zzz", "Accept": "application/json"},
    )

    text = stream.getvalue()
    assert "abc" not in text
    assert "hunter2-token" not in text
    assert "pa55word" not in text
    assert "zzz" not in text
    (line,) = lines(stream)
    assert line["headers"] == {"X-Auth-Token": "***", "Accept": "application/json"}


def test_logs_stdlib_records_routed_with_logger_name() -> None:
    """aiohttp's and asyncpg's stdlib records come out as JSON named by logger."""
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)

    logging.getLogger("asyncpg.pool").warning("connection lost")

    (line,) = lines(stream)
    assert line["event"] == "asyncpg.pool"
    assert line["message"] == "connection lost"
    assert line["level"] == "warning"


def test_logs_console_format_is_readable() -> None:
    """The console format is plain text a person reads, not JSON."""
    stream = io.StringIO()
    configure_logging("info", "console", stream=stream)

    structlog.get_logger("t").info("daemon.started", port=8080)

    text = stream.getvalue()
    assert "daemon.started" in text
    assert "port=8080" in text
    assert not text.startswith("{")
