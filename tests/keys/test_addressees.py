"""Whom a dispatch form offers: the hierarchy's neighbourhood, or the names that hold the words searched for."""

from __future__ import annotations

from esign.db import Database
from esign.identity import Actor
from keys import hierarchy, identities, uscc
from keys.hierarchy import Level


def _names(found: object) -> set[str]:
    return {o.name for o in found}  # type: ignore[attr-defined]


def test_the_neighbourhood_then_any_name(world, db: Database) -> None:  # type: ignore[no-untyped-def]
    a, b = world.orgs["A"], world.orgs["B"]
    with db.transaction() as session:
        alone = _names(hierarchy.addressees(session, a.id))
        assert b.name in alone and a.name not in alone, "placed nowhere: the directory, never itself"
        operator = Actor.operator()
        code = uscc.complete("11310104002423867")
        district = identities.create_organisation(
            session, actor=operator, name="徐汇区人民政府", short_name="徐府", uscc_code=code
        )
        hierarchy.place(session, actor=operator, organisation_id=district.id, parent_id=None, level=Level.COUNTY)
        hierarchy.place(session, actor=operator, organisation_id=a.id, parent_id=district.id, level=Level.TOWNSHIP)
        hierarchy.place(session, actor=operator, organisation_id=b.id, parent_id=district.id, level=Level.TOWNSHIP)
        placed = _names(hierarchy.addressees(session, a.id))
        assert placed == {district.name, b.name}, "the superior and the body beside it"
        assert _names(hierarchy.addressees(session, district.id)) == {a.name, b.name}, "the bodies below"
        assert _names(hierarchy.addressees(session, a.id, words=["徐汇", "政府"])) == {district.name}
        assert _names(hierarchy.addressees(session, a.id, words=["%"])) == set(), "a wildcard is a character"
