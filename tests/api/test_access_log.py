"""uvicorn's access log under ``esign serve``: the PKI's successful answers unlogged, everything else kept."""

from __future__ import annotations

import logging

import pytest

from api.access_log import QuietPkiFilter, uvicorn_log_config


def _record(path: str, status: int, method: str = "POST") -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", method, path, "1.1", status), None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "status", "logged"),
    [
        ("/pki/tsa", 200, False),
        ("/pki/ocsp", 200, False),
        ("/pki/tsa", 400, True),
        ("/pki/ocsp", 413, True),
        ("/pki/tsa", 500, True),
        ("/pki/ocsp/MEUwQzBBMD8wPTAJBgUrDgMCGgUA", 200, True),
        ("/pki/tsa?x=1", 200, True),
        ("/v1/sign", 200, True),
        ("/pki/crl", 200, True),
    ],
)
def test_only_successful_time_stamps_and_ocsp_posts_go_unlogged(path: str, status: int, logged: bool) -> None:
    assert QuietPkiFilter().filter(_record(path, status)) is logged


def test_a_record_of_another_shape_passes() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("/pki/tsa",), None)
    assert QuietPkiFilter().filter(record) is True


def test_the_configuration_puts_the_filter_on_the_access_logger_alone() -> None:
    from uvicorn.config import LOGGING_CONFIG

    config = uvicorn_log_config()
    assert config["filters"]["quiet_pki"] == {"()": QuietPkiFilter}
    assert config["loggers"]["uvicorn.access"]["filters"] == ["quiet_pki"]
    assert config["loggers"]["uvicorn.access"]["handlers"] == LOGGING_CONFIG["loggers"]["uvicorn.access"]["handlers"]
    assert all("filters" not in logger for name, logger in config["loggers"].items() if name != "uvicorn.access")
    assert "filters" not in LOGGING_CONFIG["loggers"]["uvicorn.access"]  # uvicorn's own is left as it was
