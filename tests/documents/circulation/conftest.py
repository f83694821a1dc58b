from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.db import Database
from esign.identity import Actor, Role
from esign.settings import Settings
from keys import identities, tokens
from tests.world import World


@pytest.fixture
def api(db_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(db_settings), raise_server_exceptions=False) as client:
        yield client


@dataclass(frozen=True)
class Extra:
    """Two more departments in organisation A, each with an official who has a token."""

    legal: str
    finance: str
    legal_official: str
    legal_headers: dict[str, str]
    finance_official: str
    finance_headers: dict[str, str]


@pytest.fixture
def extra(world: World, db: Database) -> Extra:
    org = world.orgs["A"]
    operator = Actor.operator(org.id)
    with db.transaction() as session:
        legal = identities.create_department(session, actor=operator, name="法规处")
        finance = identities.create_department(session, actor=operator, name="财务处")
        lawyer = identities.create_official(
            session, actor=operator, department_id=legal.id, name="A-lawyer", roles=[Role.OFFICIAL]
        )
        banker = identities.create_official(
            session, actor=operator, department_id=finance.id, name="A-banker", roles=[Role.OFFICIAL]
        )
        lawyer_token = tokens.create_for_official(session, actor=operator, official_id=lawyer.id).token
        banker_token = tokens.create_for_official(session, actor=operator, official_id=banker.id).token
    return Extra(
        legal=legal.id,
        finance=finance.id,
        legal_official=lawyer.id,
        legal_headers={"Authorization": f"Bearer {lawyer_token}"},
        finance_official=banker.id,
        finance_headers={"Authorization": f"Bearer {banker_token}"},
    )
