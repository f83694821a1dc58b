from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import pairwise

import pytest
from sqlalchemy import func, select, text

from esign import audit
from esign.audit import GENESIS_HASH, AuditEvent, AuditHead
from esign.db import Database
from esign.identity import Actor


def _append_events(db: Database, count: int, *, chain: str = "system") -> list[AuditEvent]:
    events = []
    for n in range(1, count + 1):
        with db.transaction() as session:
            events.append(
                audit.append(
                    session,
                    actor=Actor.system("", f"official-{n}"),
                    action="document.signed",
                    subject=f"document:{n}",
                    payload={"revision": f"{n:064x}", "reason": "签发", "n": n},
                    chain=chain,
                )
            )
    return events


def _verify(db: Database, chain: str | None = None) -> audit.AuditVerification:
    with db.transaction() as session:
        return audit.verify(session, chain=chain)


def _execute(db: Database, sql: str, **params: object) -> None:
    with db.transaction() as session:
        session.execute(text(sql), params)


def test_appended_events_verify(db: Database) -> None:
    events = _append_events(db, 5)

    result = _verify(db)

    assert result == audit.AuditVerification(ok=True, events_checked=5, chains_checked=1)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    with db.transaction() as session:
        head = session.get(AuditHead, "system")
        assert head is not None
        assert (head.seq, head.hash) == (5, events[-1].hash)


def test_stored_event_reproduces_its_hash(db: Database) -> None:
    with db.transaction() as session:
        event = audit.append(
            session,
            actor=Actor.system("", "official-7"),
            action="seal.applied",
            subject="document:粤府办〔2026〕12号",
            payload={"z": [1, 2.5, None], "a": {"嵌套": True}},
        )
        event_id = event.id

    with db.transaction() as session:
        stored = session.get(AuditEvent, event_id)
        assert stored is not None
        assert isinstance(stored.at, datetime)
        assert stored.payload_digest == audit.digest_payload(stored.payload)
        assert stored.hash == audit.event_hash(
            chain=stored.chain,
            seq=stored.seq,
            at=stored.at,
            actor=stored.actor,
            action=stored.action,
            subject=stored.subject,
            payload_digest=stored.payload_digest,
            prev_hash=stored.prev_hash,
        )


def test_empty_log_verifies(db: Database) -> None:
    assert _verify(db) == audit.AuditVerification(ok=True, events_checked=0, chains_checked=0)
    assert _verify(db, "system") == audit.AuditVerification(ok=True, events_checked=0, chains_checked=1)


def test_chains_are_independent(db: Database) -> None:
    _append_events(db, 3, chain="org:1")
    _append_events(db, 2, chain="org:2")

    assert _verify(db) == audit.AuditVerification(ok=True, events_checked=5, chains_checked=2)
    assert _verify(db, "org:2").events_checked == 2
    with db.transaction() as session:
        seqs = session.execute(select(AuditEvent.chain, func.max(AuditEvent.seq)).group_by(AuditEvent.chain)).all()
    assert sorted(seqs) == [("org:1", 3), ("org:2", 2)]


def test_append_rolls_back_with_the_callers_transaction(db: Database) -> None:
    _append_events(db, 2)

    with pytest.raises(LookupError), db.transaction() as session:
        audit.append(session, actor=Actor.system("", "a"), action="b", subject="c")
        raise LookupError("the change this event belonged to failed")

    assert _verify(db) == audit.AuditVerification(ok=True, events_checked=2, chains_checked=1)
    assert _append_events(db, 1)[0].seq == 3


def test_several_appends_in_one_transaction(db: Database) -> None:
    with db.transaction() as session:
        seqs = [audit.append(session, actor=Actor.system("", "a"), action="b", subject=str(n)).seq for n in range(3)]

    assert seqs == [1, 2, 3]
    assert _verify(db).ok


def test_edited_payload_is_named(db: Database) -> None:
    events = _append_events(db, 5)
    _execute(
        db,
        "UPDATE audit_events SET payload = :payload WHERE id = :id",
        payload='{"revision": "forged", "reason": "签发", "n": 3}',
        id=events[2].id,
    )

    result = _verify(db)

    assert not result.ok
    assert result.broken is not None
    assert (result.broken.chain, result.broken.seq, result.broken.event_id) == (
        "system",
        3,
        events[2].id,
    )
    assert "payload" in result.broken.reason
    assert result.events_checked == 2


def test_edited_actor_is_named(db: Database) -> None:
    events = _append_events(db, 5)
    _execute(db, "UPDATE audit_events SET actor = 'official:999' WHERE id = :id", id=events[1].id)

    broken = _verify(db).broken

    assert broken is not None
    assert (broken.seq, broken.event_id) == (2, events[1].id)
    assert "hash" in broken.reason


def test_edited_hash_is_named_not_its_successor(db: Database) -> None:
    events = _append_events(db, 5)
    _execute(db, "UPDATE audit_events SET hash = :h WHERE id = :id", h="f" * 64, id=events[3].id)

    broken = _verify(db).broken

    assert broken is not None
    assert broken.seq == 4


def test_the_first_of_several_edits_is_named(db: Database) -> None:
    events = _append_events(db, 6)
    for event in (events[4], events[1], events[3]):
        _execute(db, "UPDATE audit_events SET subject = 'x' WHERE id = :id", id=event.id)

    broken = _verify(db).broken

    assert broken is not None
    assert (broken.seq, broken.event_id) == (2, events[1].id)


def test_deleted_middle_event_names_the_seq_after_the_gap(db: Database) -> None:
    events = _append_events(db, 5)
    _execute(db, "DELETE FROM audit_events WHERE id = :id", id=events[2].id)

    result = _verify(db)

    assert result.broken is not None
    assert (result.broken.seq, result.broken.event_id) == (4, events[3].id)
    assert "seq 3 missing" in result.broken.reason
    assert result.events_checked == 2


def test_deleted_first_event_is_detected(db: Database) -> None:
    events = _append_events(db, 3)
    _execute(db, "DELETE FROM audit_events WHERE id = :id", id=events[0].id)

    broken = _verify(db).broken

    assert broken is not None
    assert (broken.seq, broken.event_id) == (2, events[1].id)


def test_deleted_last_event_is_detected(db: Database) -> None:
    events = _append_events(db, 5)
    _execute(db, "DELETE FROM audit_events WHERE id = :id", id=events[4].id)

    result = _verify(db)

    assert not result.ok
    assert result.broken is not None
    assert (result.broken.seq, result.broken.event_id) == (5, None)
    assert "deleted" in result.broken.reason
    assert result.events_checked == 4


def test_deleted_tail_with_rewound_head_still_breaks_the_head_hash(db: Database) -> None:
    events = _append_events(db, 5)
    _execute(db, "DELETE FROM audit_events WHERE id = :id", id=events[4].id)
    _execute(db, "UPDATE audit_heads SET seq = 4")

    broken = _verify(db).broken

    assert broken is not None
    assert (broken.seq, broken.event_id) == (4, events[3].id)


def test_head_behind_the_events_is_detected(db: Database) -> None:
    _append_events(db, 4)
    _execute(db, "UPDATE audit_heads SET seq = 2")

    broken = _verify(db).broken

    assert broken is not None
    assert broken.seq in (2, 3)


def test_missing_head_is_detected(db: Database) -> None:
    _append_events(db, 2)
    _execute(db, "DELETE FROM audit_heads")

    broken = _verify(db).broken

    assert broken is not None
    assert broken.event_id is None
    assert "head" in broken.reason


def test_swapped_events_are_detected(db: Database) -> None:
    events = _append_events(db, 5)
    second, third = events[1], events[2]
    _execute(db, "UPDATE audit_events SET seq = -1 WHERE id = :id", id=second.id)
    _execute(db, "UPDATE audit_events SET seq = 2 WHERE id = :id", id=third.id)
    _execute(db, "UPDATE audit_events SET seq = 3 WHERE id = :id", id=second.id)

    result = _verify(db)

    assert result.broken is not None
    assert (result.broken.seq, result.broken.event_id) == (2, third.id)
    assert "prev_hash" in result.broken.reason


def test_reordered_prev_hash_is_detected(db: Database) -> None:
    events = _append_events(db, 4)
    _execute(
        db,
        "UPDATE audit_events SET prev_hash = :h WHERE id = :id",
        h=events[0].hash,
        id=events[2].id,
    )

    broken = _verify(db).broken

    assert broken is not None
    assert (broken.seq, broken.event_id) == (3, events[2].id)


def test_non_json_payload_values_are_refused(db: Database) -> None:
    with pytest.raises(ValueError), db.transaction() as session:
        audit.append(session, actor=Actor.system("", "a"), action="b", subject="c", payload={"x": float("nan")})

    assert _verify(db).events_checked == 0


def test_concurrent_appenders_do_not_fork_the_chain(db: Database) -> None:
    workers, per_worker = 8, 25
    barrier = threading.Barrier(workers)

    def work(worker: int) -> None:
        barrier.wait()
        for n in range(per_worker):
            with db.transaction() as session:
                audit.append(
                    session,
                    actor=Actor.system("", f"worker-{worker}"),
                    action="test.append",
                    subject=f"item:{worker}:{n}",
                    payload={"worker": worker, "n": n},
                )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in [pool.submit(work, w) for w in range(workers)]:
            done.result()

    total = workers * per_worker
    assert _verify(db) == audit.AuditVerification(ok=True, events_checked=total, chains_checked=1)
    with db.transaction() as session:
        seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
        prev_hashes = session.scalars(select(AuditEvent.prev_hash)).all()
        head = session.get(AuditHead, "system")
    assert seqs == list(range(1, total + 1))
    assert len(set(prev_hashes)) == total
    assert head is not None and head.seq == total
