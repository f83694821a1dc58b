"""Which requests uvicorn's access log records: all but the PKI's successful time-stamps and OCSP answers.

A line per time-stamp or OCSP answer cost about a tenth of serving one (``bench/pki.py``) and says
nothing a log reader needs: these requests come by the thousand from every signature's validation, and
a token or an answer is its own record. A request to them that fails (a status of 400 or more) is still
logged, and so is every other request.
"""

from __future__ import annotations

import logging
from typing import Any

QUIET_PATHS = frozenset({"/pki/tsa", "/pki/ocsp"})
"""The paths whose successful requests go unlogged (POST; the GET form of OCSP keeps its lines)."""


class QuietPkiFilter(logging.Filter):
    """Drops uvicorn's access record of a successful request to one of ``QUIET_PATHS``.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with (client, method, path and query, HTTP version,
    status) as arguments; a record of another shape passes untouched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        path, status = args[2], args[4]
        return not (path in QUIET_PATHS and isinstance(status, int) and status < 400)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with ``QuietPkiFilter`` on its access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = {key: (dict(value) if isinstance(value, dict) else value) for key, value in LOGGING_CONFIG.items()}
    config["filters"] = {**config.get("filters", {}), "quiet_pki": {"()": QuietPkiFilter}}
    loggers = {name: dict(logger) for name, logger in config["loggers"].items()}
    loggers["uvicorn.access"] = {**loggers["uvicorn.access"], "filters": ["quiet_pki"]}
    config["loggers"] = loggers
    return config
