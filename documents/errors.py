"""Errors of the document domain; ``api/`` maps them to HTTP statuses."""

from __future__ import annotations

from esign.errors import EsignError


class DocumentsError(EsignError):
    code = "documents_error"


class DocumentNotFound(DocumentsError):
    code = "not_found"


class InvalidDocument(DocumentsError):
    code = "invalid_request"


class StateConflict(DocumentsError):
    """The document is not in a state that allows this (e.g. numbered twice)."""

    code = "conflict"
