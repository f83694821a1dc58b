"""Identifiers and the clock: one definition of each for every package."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id() -> str:
    """A random UUID as text: the primary key of every record the service creates."""
    return str(uuid.uuid4())


def now() -> datetime:
    """The current time, timezone-aware UTC, as every stored time is."""
    return datetime.now(UTC)
