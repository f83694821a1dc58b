"""The states a document and a route go through, and the one table of moves each may make.

A document's state is moved only by :func:`move_document`, a route's only by :func:`move_route`: a move the
table does not list raises :class:`~documents.errors.StateConflict` and changes nothing. The columns stay
strings (the enum's value is stored), so the tables need no migration.

The document table is what the services do today, whatever the route template (templates are free-form, so a
step of any kind may follow any other):

- intake makes a document ``draft`` (rendered, or an outgoing upload) or ``received`` (an incoming upload);
  a dispatch makes the recipient's copy ``arrived``;
- starting a route puts a ``draft`` or ``arrived`` document ``in_circulation`` (outgoing) or ``arrived``
  (incoming); other states stay as they are;
- steps and services then move it: a signature to ``signed``, a seal to ``sealed``, a registration or a
  number to ``registered`` (a number may also be given to a draft), a dispatch to ``dispatched``, a receipt
  to ``received``, a closure to ``closed``, and an incoming route's completion to ``archived``. A second
  signature leaves a signed document signed, and a new route may start on a document whose route completed,
  so each of these may follow any state but ``draft``, itself included.

Nothing ever goes back to ``draft``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol, TypeVar

from .errors import StateConflict

__all__ = [
    "DOCUMENT_INITIAL",
    "DOCUMENT_TRANSITIONS",
    "ROUTE_INITIAL",
    "ROUTE_TRANSITIONS",
    "DocumentState",
    "RouteState",
    "move_document",
    "move_route",
]


class DocumentState(enum.StrEnum):
    DRAFT = "draft"
    """Rendered, or uploaded as outgoing: not yet on a route."""
    RECEIVED = "received"
    """Uploaded as incoming, or signed for (签收) by a receipt step."""
    ARRIVED = "arrived"
    """Dispatched here by another organisation."""
    IN_CIRCULATION = "in_circulation"
    """An outgoing document on its route."""
    SIGNED = "signed"
    SEALED = "sealed"
    REGISTERED = "registered"
    """Registered (登记), with a number if it is outgoing."""
    DISPATCHED = "dispatched"
    """Sent to other organisations (分发)."""
    CLOSED = "closed"
    """Its closure step (办结) is done."""
    ARCHIVED = "archived"
    """An incoming document whose route completed."""
    FORWARDED = "forwarded"
    """An incoming document this organisation was not competent for, sent on to the one that is (回流)."""


class RouteState(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


_BY_STEPS = frozenset(
    {
        DocumentState.SIGNED,
        DocumentState.SEALED,
        DocumentState.REGISTERED,
        DocumentState.DISPATCHED,
        DocumentState.RECEIVED,
        DocumentState.CLOSED,
        DocumentState.ARCHIVED,
        DocumentState.FORWARDED,
    }
)
"""What a step, a number or a route's completion makes of a document, whatever state it is in."""

DOCUMENT_INITIAL: frozenset[DocumentState] = frozenset(
    {DocumentState.DRAFT, DocumentState.RECEIVED, DocumentState.ARRIVED}
)
"""The states a document is created in."""

DOCUMENT_TRANSITIONS: Mapping[DocumentState, frozenset[DocumentState]] = {
    DocumentState.DRAFT: frozenset({DocumentState.IN_CIRCULATION, DocumentState.ARRIVED, DocumentState.REGISTERED}),
    DocumentState.ARRIVED: _BY_STEPS | {DocumentState.ARRIVED, DocumentState.IN_CIRCULATION},
    **{state: _BY_STEPS for state in DocumentState if state not in (DocumentState.DRAFT, DocumentState.ARRIVED)},
}
"""Where a document may go from each state. Starting a route takes ``draft`` and ``arrived`` to
``in_circulation`` or ``arrived`` by the document's direction; intake never makes an incoming draft or an
outgoing arrival, so ``draft → arrived`` and ``arrived → in_circulation`` are not taken in practice."""

ROUTE_INITIAL: frozenset[RouteState] = frozenset({RouteState.ACTIVE})

ROUTE_TRANSITIONS: Mapping[RouteState, frozenset[RouteState]] = {
    RouteState.ACTIVE: frozenset({RouteState.COMPLETED}),
    RouteState.COMPLETED: frozenset(),
}
"""A route is active until its last stage is done; a completed route does not move again."""


class _Stateful(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @state.setter
    def state(self, value: str) -> None: ...


_S = TypeVar("_S", DocumentState, RouteState)


def _move(record: _Stateful, to: _S, table: Mapping[_S, frozenset[_S]], what: str) -> None:
    current = type(to)(record.state)
    if to not in table[current]:
        raise StateConflict(f"{what} {record.id} is {current.value}; it cannot become {to.value}")
    record.state = to.value


def move_document(document: _Stateful, to: DocumentState) -> None:
    """Put the document in state ``to``; :class:`StateConflict` if :data:`DOCUMENT_TRANSITIONS` has no such move."""
    _move(document, to, DOCUMENT_TRANSITIONS, "document")


def move_route(route: _Stateful, to: RouteState) -> None:
    """Put the route in state ``to``; :class:`StateConflict` if :data:`ROUTE_TRANSITIONS` has no such move."""
    _move(route, to, ROUTE_TRANSITIONS, "route")
