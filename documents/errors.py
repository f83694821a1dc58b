"""Errors of the document domain; ``api/`` maps them to HTTP statuses through the kernel's generic errors.

An unknown document, route or template is the kernel's :class:`esign.errors.NotFound`, like any other
record another organisation holds.
"""

from __future__ import annotations

from esign.errors import Conflict, EsignError, InvalidInput


class DocumentsError(EsignError):
    code = "documents_error"


class InvalidDocument(InvalidInput):
    code = "invalid_request"


class StateConflict(Conflict):
    """The document is not in a state that allows this (e.g. numbered twice)."""

    code = "conflict"
