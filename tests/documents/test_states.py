"""The table of state moves: documents and routes move only as it says, and every state can be reached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import pytest

from documents.errors import StateConflict
from documents.states import (
    DOCUMENT_INITIAL,
    DOCUMENT_TRANSITIONS,
    ROUTE_INITIAL,
    ROUTE_TRANSITIONS,
    DocumentState,
    RouteState,
    move_document,
    move_route,
)


@dataclass
class Record:
    id: str
    state: str


S = TypeVar("S", bound=StrEnum)


def reachable(initial: frozenset[S], table: Mapping[S, frozenset[S]]) -> set[S]:
    seen, frontier = set(initial), list(initial)
    while frontier:
        for following in table[frontier.pop()]:
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return seen


def test_every_state_has_a_row_and_can_be_reached() -> None:
    assert set(DOCUMENT_TRANSITIONS) == set(DocumentState)
    assert set(ROUTE_TRANSITIONS) == set(RouteState)
    assert reachable(DOCUMENT_INITIAL, DOCUMENT_TRANSITIONS) == set(DocumentState)
    assert reachable(ROUTE_INITIAL, ROUTE_TRANSITIONS) == set(RouteState)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (DocumentState.DRAFT, DocumentState.IN_CIRCULATION),
        (DocumentState.DRAFT, DocumentState.REGISTERED),
        (DocumentState.ARRIVED, DocumentState.ARRIVED),
        (DocumentState.IN_CIRCULATION, DocumentState.SIGNED),
        (DocumentState.SIGNED, DocumentState.SIGNED),
        (DocumentState.SIGNED, DocumentState.SEALED),
        (DocumentState.SEALED, DocumentState.REGISTERED),
        (DocumentState.REGISTERED, DocumentState.DISPATCHED),
        (DocumentState.ARRIVED, DocumentState.RECEIVED),
        (DocumentState.RECEIVED, DocumentState.CLOSED),
        (DocumentState.CLOSED, DocumentState.ARCHIVED),
    ],
)
def test_a_document_makes_the_moves_the_services_make(start: DocumentState, to: DocumentState) -> None:
    document = Record("d1", start.value)
    move_document(document, to)
    assert document.state == to and type(document.state) is str


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (DocumentState.SIGNED, DocumentState.DRAFT),
        (DocumentState.DRAFT, DocumentState.SIGNED),
        (DocumentState.DRAFT, DocumentState.DISPATCHED),
        (DocumentState.IN_CIRCULATION, DocumentState.IN_CIRCULATION),
        (DocumentState.ARCHIVED, DocumentState.IN_CIRCULATION),
        (DocumentState.SIGNED, DocumentState.ARRIVED),
    ],
)
def test_any_other_document_move_is_a_conflict_and_changes_nothing(start: DocumentState, to: DocumentState) -> None:
    document = Record("d1", start.value)
    with pytest.raises(StateConflict, match=f"document d1 is {start.value}"):
        move_document(document, to)
    assert document.state == start


def test_nothing_goes_back_to_draft() -> None:
    assert all(DocumentState.DRAFT not in following for following in DOCUMENT_TRANSITIONS.values())


def test_a_route_completes_once() -> None:
    route = Record("r1", RouteState.ACTIVE.value)
    move_route(route, RouteState.COMPLETED)
    assert route.state == RouteState.COMPLETED
    with pytest.raises(StateConflict, match="route r1 is completed"):
        move_route(route, RouteState.COMPLETED)
    with pytest.raises(StateConflict):
        move_route(route, RouteState.ACTIVE)
