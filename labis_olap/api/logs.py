"""Structured logs (LABIS_LOG_JSON): one JSON object per line, for a log collector.

Every record has `time` (UTC, ISO 8601), `level`, `logger` and `message`; an exception adds
`error` (its type and first line, not the traceback's locals). uvicorn's access lines are
written as `method`, `path`, `status` and `client`, the path **without its query string**: the
query string carries cut values, which can identify a person (docs/security.md), and the audit
log is where requests are recorded with what may be kept of them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _version, status = record.args
            out |= {
                "message": "request",
                "method": method,
                "path": str(path).split("?", 1)[0],
                "status": status,
                "client": client,
            }
        else:
            out["message"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = str(exc).strip().splitlines()
            out["error"] = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
        return json.dumps(out, ensure_ascii=False, default=str)


def log_config(as_json: bool) -> dict[str, Any] | None:
    """uvicorn's `log_config`: None keeps its own text logging; JSON sends every logger (uvicorn's,
    `labis.*`) to stderr through JsonFormatter."""
    if not as_json:
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "labis_olap.api.logs.JsonFormatter"}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
