"""Helpers shared by tests of every package."""

from __future__ import annotations

import os

import pytest


def require(condition: bool, why: str) -> None:
    """Skip when an external tool or service is missing, except in CI, where that is a failure.

    CI sets ``ESIGN_TEST_REQUIRE_ALL=1`` so that no test can pass there by being skipped.
    """
    if condition:
        return
    if os.environ.get("ESIGN_TEST_REQUIRE_ALL") == "1":
        pytest.fail(f"required in this run (ESIGN_TEST_REQUIRE_ALL=1): {why}", pytrace=False)
    pytest.skip(why)
