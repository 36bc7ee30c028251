"""Logging: structlog everywhere, to stderr, JSON lines or a readable console.

stdout belongs to a command's own output (a report, a table), so every log
line goes to stderr, where journald picks it up under systemd. Logs of
aiohttp, asyncpg and asyncio pass through the same pipeline, named after
their logger, so one alert rule syntax fits every line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "***"
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api_key", re.I)
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]+@")


class SecretRedactor:
    """Masks secrets by key name, by known value, and inside database URLs."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mask innocent text; real secrets are long.
        self._values = sorted({s for s in secrets if len(s) >= 4}, key=len)[::-1]

    def __call__(
        self, logger: WrappedLogger, method_name: str, event_dict: EventDict
    ) -> EventDict:
        for key, value in list(event_dict.items()):
            if key.startswith("_"):
                continue
            if _SECRET_KEY.search(key) and value is not None:
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self._scrub(value)
        return event_dict

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, MutableMapping):
            return {k: self._scrub_item(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(item) for item in value]
        return value

    def _scrub_item(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and _SECRET_KEY.search(key) and value is not None:
            return REDACTED
        return self._scrub(value)

    def scrub_text(self, text: str) -> str:
        """Return text with every known secret and URL password masked."""
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
        for secret in self._values:
            text = text.replace(secret, REDACTED)
        return text


def _name_foreign_event(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Give a stdlib record a stable event name: its logger's name."""
    record: logging.LogRecord | None = event_dict.get("_record")
    if record is not None:
        event_dict["message"] = event_dict.get("event")
        event_dict["event"] = record.name
    return event_dict


def configure_logging(
    level: str = "info",
    log_format: str = "auto",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """
    Route structlog and stdlib logging to one stream with one format.

    Args:
        level: the lowest level written (debug, info, warning, error).
        log_format: json, console, or auto (console on a terminal).
        secrets: values to mask wherever they appear.
        stream: where lines go; stderr unless a test passes its own.
    """
    out = stream if stream is not None else sys.stderr
    use_json = log_format == "json" or (log_format == "auto" and not out.isatty())
    levelno = logging.getLevelNamesMapping()[level.upper()]

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        SecretRedactor(secrets),
    ]
    renderer: list[Processor] = (
        [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
        if use_json
        else [structlog.dev.ConsoleRenderer(colors=out.isatty())]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[_name_foreign_event, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(levelno)
    # aiohttp's access log repeats what our own events say, one line a request.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(levelno),
        cache_logger_on_first_use=False,
    )
