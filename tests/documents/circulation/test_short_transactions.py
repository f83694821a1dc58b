"""Slow work holds no connection: rendering, the verification of an upload, signing (with its time-stamp at
B-T and its revocation data at B-LT), numbering, sealing and the verification before a dispatch each run
while the API's pool has no connection checked out, so no transaction is open around them; and what they
make still commits with its audit event, revision and outbox event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import documents.render
from documents import numbering
from documents.circulation import exchange
from esign import budget, outbox
from esign.audit import AuditEvent
from esign.db import Database
from keys import signing
from tests.conftest import make_pdf
from tests.documents.circulation.conftest import Extra
from tests.documents.circulation.test_flows import _approve, _document, _one, _start
from tests.documents.test_rendered import CONTENT
from tests.world import PIN, World


class Watch:
    """Wraps the slow functions and notes how many of the API's pooled connections were checked out when
    each was called."""

    def __init__(self, database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.database = database
        self.seen: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._monkeypatch = monkeypatch

    def wrap(self, owner: object, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.seen.append((label, self.database.engine.pool.checkedout()))  # type: ignore[attr-defined]
            return original(*args, **kwargs)

        self._monkeypatch.setattr(owner, name, watched)

    def labels(self) -> set[str]:
        return {label for label, _ in self.seen}

    def held(self) -> list[tuple[str, int]]:
        return [(label, n) for label, n in self.seen if n]


def test_slow_work_runs_with_no_transaction_open(
    api: TestClient, world: World, extra: Extra, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = Watch(api.app.state.database, monkeypatch)  # type: ignore[attr-defined]
    watch.wrap(documents.render, "render", "render")
    watch.wrap(budget, "verify", "verify upload")
    watch.wrap(signing, "sign", "sign")
    watch.wrap(numbering, "sign", "number")
    watch.wrap(exchange, "verify", "verify dispatch")

    a, b = world.orgs["A"], world.orgs["B"]
    clerk, leader, custodian = a.members["clerk"], a.members["leader"], a.members["custodian"]
    rendered = api.post(
        "/v1/documents",
        headers=clerk.headers,
        json={"content": {**CONTENT, "title": "关于短事务的通知"}},
    )
    assert rendered.status_code == 201, rendered.text
    document = _document(api, clerk.headers)
    _start(
        api,
        clerk.headers,
        document,
        [
            {"steps": [{"kind": "sign_off", "assignee": {"official_id": leader.official_id}}]},
            {"steps": [{"kind": "registration", "assignee": {"role": "clerk"}}]},
            {"steps": [{"kind": "seal", "assignee": {"official_id": custodian.official_id}}]},
            {"steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]},
        ],
    )
    step = _one(api, leader.headers, document, "sign_off")
    _approve(api, leader.headers, step, opinion="同意", credential_id=leader.credential_id, pin=PIN, level="B-T")
    _approve(api, clerk.headers, _one(api, clerk.headers, document, "registration"))
    _approve(
        api, custodian.headers, _one(api, custodian.headers, document, "seal"), credential_id=custodian.seal_id, pin=PIN
    )
    _approve(api, clerk.headers, _one(api, clerk.headers, document, "dispatch"), recipients=[b.id])
    signed = api.post(
        "/v1/sign",
        headers=leader.headers,
        data={"credential_id": leader.credential_id, "pin": PIN, "level": "B-LT"},
        files={"file": ("a.pdf", make_pdf(), "application/pdf")},
    )
    assert signed.status_code == 200, signed.text

    assert watch.labels() == {"render", "verify upload", "sign", "number", "verify dispatch"}
    assert watch.held() == [], "slow work ran inside a transaction"

    revisions = api.get(f"/v1/documents/{document}/revisions", headers=clerk.headers).json()
    assert [r["reason"] for r in revisions] == ["uploaded", "signed", "numbered", "sealed"]
    with db.transaction() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.subject == f"document:{document}")))
        events = set(
            session.scalars(select(outbox.OutboxEvent.type).where(outbox.OutboxEvent.subject == f"document:{document}"))
        )
    assert {"document.signed", "document.numbered", "document.sealed", "document.dispatched"} <= actions
    assert {"document.signed", "document.sealed"} <= events


def test_a_signature_prepared_on_a_revision_that_moved_on_is_made_again(
    api: TestClient, world: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two officials sign one document at once: the one whose revision was extended meanwhile signs again on
    top of the other's, so both signatures end up in the document and neither is lost."""
    a = world.orgs["A"]
    clerk, leader, official = a.members["clerk"], a.members["leader"], a.members["official"]
    document = _document(api, clerk.headers)
    original = signing.SigningWork.run
    interleaved = threading.Event()

    def run_then_let_the_other_sign_first(self: signing.SigningWork) -> None:
        original(self)
        if not interleaved.is_set():
            interleaved.set()
            answer = api.post(
                f"/v1/documents/{document}/sign",
                headers=official.headers,
                json={"credential_id": official.credential_id, "pin": PIN},
            )
            assert answer.status_code == 200, answer.text

    monkeypatch.setattr(signing.SigningWork, "run", run_then_let_the_other_sign_first)
    answer = api.post(
        f"/v1/documents/{document}/sign",
        headers=leader.headers,
        json={"credential_id": leader.credential_id, "pin": PIN},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["seq"] == 3
    revisions = api.get(f"/v1/documents/{document}/revisions", headers=clerk.headers).json()
    assert [r["reason"] for r in revisions] == ["uploaded", "signed", "signed"]
    report = api.get(f"/v1/documents/{document}/verification", headers=clerk.headers).json()
    assert len(report["signatures"]) == 2 and report["valid"], report["summary"]
