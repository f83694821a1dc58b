"""The one way to fetch a record by id inside an organisation: another organisation's record is not found.

An unknown id and one that belongs to another organisation raise the same :class:`NotFound`, with the same
message, so a caller cannot tell the two apart.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from .errors import NotFound
from .identity import Actor


class _Scoped(Protocol):
    organisation_id: Any


Model = TypeVar("Model", bound=_Scoped)


def get_scoped(
    session: Session,
    model: type[Model],
    *,
    scope: Actor | str,
    id: Any,
    what: str,
    for_update: bool = False,
) -> Model:
    """The ``model`` row with primary key ``id`` if it belongs to ``scope`` (an actor, or an organisation id).

    ``for_update`` locks the row and re-reads it. Raises ``NotFound("no {what} {id}")`` otherwise.
    """
    organisation_id = scope.organisation_id if isinstance(scope, Actor) else scope
    found = session.get(model, id, with_for_update=for_update, populate_existing=for_update)
    if found is None or found.organisation_id != organisation_id:
        shown = id[-1] if isinstance(id, tuple) else id
        raise NotFound(f"no {what} {shown}")
    return found
