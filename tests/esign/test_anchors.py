"""Anchors: a truncated chain or a rewound head verifies without them and is caught with them, even when the
stored anchors were deleted too and only an exported one is left."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, text

from esign import anchors, audit
from esign.anchors import Anchor, AuditAnchor
from esign.db import Database
from esign.identity import Actor
from esign.settings import Settings
from keys import anchoring, authorities
from migrations import migrate
from tests.world import World

CHAIN = "org-anchored"


def _append(db: Database, n: int) -> None:
    for i in range(n):
        with db.transaction() as session:
            audit.append(session, actor=Actor.system(CHAIN, "test"), action="t.done", subject=f"s:{i}", chain=CHAIN)


def _rewind(db: Database, *, to_seq: int) -> None:
    """What an intruder with the database's credentials does: drop the newest events, set the head back."""
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_events WHERE chain = :c AND seq > :s"), {"c": CHAIN, "s": to_seq})
        kept = session.execute(
            text("SELECT hash FROM audit_events WHERE chain = :c AND seq = :s"), {"c": CHAIN, "s": to_seq}
        ).scalar_one()
        session.execute(
            text("UPDATE audit_heads SET seq = :s, hash = :h WHERE chain = :c"), {"c": CHAIN, "s": to_seq, "h": kept}
        )


def test_a_rewound_chain_passes_without_anchors_and_fails_with_one(db: Database, world: World) -> None:
    _append(db, 5)
    made = anchoring.anchor(db, pki=world.pki, settings=world.settings)
    assert made is not None and (CHAIN, 5) in [(h.chain, h.seq) for h in made.heads]
    assert anchoring.check_token(made, pki=world.pki) is None
    _append(db, 2)
    _rewind(db, to_seq=3)

    with db.transaction() as session:
        assert audit.verify(session).ok, "the shortened chain checks out on its own"
        result = anchors.verify_anchored(session)
    assert not result.ok and result.broken is not None
    assert result.broken.chain == CHAIN and result.broken.seq == 5
    assert "truncated" in result.broken.reason

    with db.transaction() as session:
        session.execute(delete(AuditAnchor))
        assert anchors.verify_anchored(session).ok, "with the stored anchors gone too, only an exported one helps"
        exported = Anchor.from_json(made.to_json())
        assert not anchors.verify_anchored(session, exported=[exported]).ok


def test_events_after_the_anchor_may_come_and_go_only_beyond_it(db: Database, world: World) -> None:
    _append(db, 3)
    assert anchoring.anchor(db, pki=world.pki, settings=world.settings) is not None
    assert anchoring.anchor(db, pki=world.pki, settings=world.settings) is None, "nothing moved"
    _append(db, 3)
    _rewind(db, to_seq=4)
    with db.transaction() as session:
        assert anchors.verify_anchored(session).ok, "seq 3 was anchored; what came after is not vouched for"


def test_a_rewritten_anchored_event_and_a_forged_token_are_caught(db: Database, world: World) -> None:
    _append(db, 2)
    made = anchoring.anchor(db, pki=world.pki, settings=world.settings)
    assert made is not None
    other = dataclasses.replace(made, heads=(anchors.Head(CHAIN, 2, "f" * 64),))
    with db.transaction() as session:
        broken = anchors.verify_anchored(session, exported=[other]).broken
    assert broken is not None and "not over its heads" in broken.reason
    assert anchoring.check_token(other, pki=world.pki) is not None


def test_the_cli_anchors_exports_and_verifies_against_the_export(
    new_database: Callable[[], Database], db_settings: Settings, tmp_path: Path
) -> None:
    """Through ``esign audit``, in a database of its own: the CLI's processes write to it too."""
    database = new_database()
    migrate.upgrade(database)
    settings = db_settings.model_copy(
        update={"database_url": database.url.render_as_string(hide_password=False), "database_schema": database.schema}
    )
    with database.transaction() as session:
        authorities.ensure(session, settings)
    _append(database, 4)
    exported = tmp_path / "anchor.json"
    cli = [sys.executable, "-m", "api"]
    environment = _environment(settings)
    made = subprocess.run(
        [*cli, "audit", "anchor", "--out", str(exported)], env=environment, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    assert "anchored" in made.stdout and CHAIN in exported.read_text()
    _rewind(database, to_seq=2)
    with database.transaction() as session:
        session.execute(delete(AuditAnchor))
    plain = subprocess.run([*cli, "audit", "verify"], env=environment, capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    checked = subprocess.run(
        [*cli, "audit", "verify", "--anchor", str(exported)], env=environment, capture_output=True, text=True
    )
    assert checked.returncode == 1 and "truncated" in checked.stderr
    database.dispose()


def _environment(settings: Settings) -> dict[str, str]:
    environment = {
        **os.environ,
        "ESIGN_DATA_DIR": str(settings.data_dir),
        "ESIGN_DATABASE_URL": str(settings.database_url),
    }
    if settings.database_schema:
        environment["ESIGN_DATABASE_SCHEMA"] = settings.database_schema
    if settings.ca_passphrase is not None:
        environment["ESIGN_CA_PASSPHRASE"] = settings.ca_passphrase.get_secret_value()
    return environment


def test_the_worker_job_anchors_when_the_interval_has_passed(db: Database, world: World) -> None:
    _append(db, 1)
    job = anchoring.anchoring_job(world.settings, every=timedelta(hours=1))
    assert job(db) >= 1, "the first round anchors"
    _append(db, 1)
    assert job(db) == 0, "within the hour, nothing more"
    assert anchoring.anchoring_job(world.settings, every=timedelta(0))(db) >= 1, "once it has passed, the moved chain"
