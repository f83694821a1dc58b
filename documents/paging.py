"""Opaque cursors for keyset paging: the sort key of the last row given, which the next page starts after."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from esign.errors import InvalidInput

_SEPARATOR = "|"


def encode(*parts: str) -> str:
    return base64.urlsafe_b64encode(_SEPARATOR.join(parts).encode()).decode()


def decode(cursor: str, *parsers: Callable[[str], Any]) -> tuple[Any, ...]:
    """The parts of ``cursor``, each read by its parser; a 422 for anything this service did not give."""
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split(_SEPARATOR, len(parsers) - 1)
        if len(parts) != len(parsers):
            raise ValueError(cursor)
        return tuple(parse(part) for parse, part in zip(parsers, parts, strict=True))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the cursor is not one this service gave") from None
