"""Server logs: uvicorn's text lines, or one JSON object per line (PROMPTGRAPH_LOG_FORMAT).

A JSON line has `time` (UTC, RFC 3339), `level`, `logger`, `message`, `request_id` when the
record was made while serving a request whose id is known, and `exception` with the
traceback when there is one. The formatter is ours: five fixed fields over orjson do not
need a library's configuration surface.
"""

import copy
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

_request_id: ContextVar[str | None] = ContextVar("promptgraph_request_id", default=None)


def bind_request_id(request_id: str) -> None:
    """Tags the log records made from here on, in this task and the ones it starts."""
    _request_id.set(request_id)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def log_config(log_format: Literal["text", "json"]) -> dict[str, Any]:
    """uvicorn's logging, plus promptgraph's own loggers, in every worker process."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["promptgraph"] = {"handlers": ["default"], "level": "INFO"}
    if log_format == "json":
        config["formatters"] = {
            name: {"()": f"{__name__}.JsonFormatter"} for name in config["formatters"]
        }
    return config
