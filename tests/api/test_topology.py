"""Beyond one machine: two API processes and a worker on one PostgreSQL database and one SeaweedFS bucket.

Real processes, as a deployment runs them: ``esign serve --no-worker`` twice, on two ports, each with a data
directory of its own, and ``esign worker`` once, behind a round-robin balancer; the README's official-document
walk-through runs through it, its requests alternating between the two. Then the object store dies in the middle
of a request: that request, and the next that needs the store, are 503 ``blob_store_unavailable`` and leave
nothing half-written, and the same requests succeed once the store is back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
from sqlalchemy import func, select

from documents.records import Document, Revision
from esign.db import Database
from esign.trust import TrustSettings
from esign.verify import verify
from tests.api.balancer import Balancer, balancing
from tests.api.served import free_port
from tests.api.test_readme import ROOT, shell_blocks
from tests.api.topology import api_process, headers, initialise, shared_env, started
from tests.conftest import make_pdf
from tests.seaweedfs import SeaweedFS, free_ports, running
from tests.support import require

CLERK = "王芳"
PIN = "123456"


def _walkthrough(balancer: Balancer, work: Path, env: dict[str, str]) -> str:
    """The README's "An official document" section through the balancer; its output, then DOC=<id>."""
    scratch = work / "scratch"
    scratch.mkdir(parents=True)
    script = shell_blocks("### An official document", "### Another system posts")
    script = script.replace("8765", str(free_port()))
    prologue = f"API={balancer.url}\nREPO={work}\ncd {scratch}\n"
    (work / "walkthrough.sh").write_text(
        "set -euo pipefail\n" + prologue + script + '\necho "DOC=$DOC"\n', encoding="utf-8"
    )
    result = subprocess.run(
        ["bash", "walkthrough.sh"], cwd=work, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (scratch / "webhook.log").read_text(encoding="utf-8")
    for event in ("document.signed", "document.sealed", "document.dispatched", "receipt.received"):
        assert event in log, f"the worker process delivered no {event}:\n{log}"
    return result.stdout


def _counts(database: Database) -> tuple[int, int]:
    with database.transaction() as session:
        documents = session.scalar(select(func.count()).select_from(Document))
        revisions = session.scalar(select(func.count()).select_from(Revision))
    return int(documents or 0), int(revisions or 0)


def _revision_digests(database: Database, document_id: str | None = None) -> list[str]:
    query = select(Revision.sha256).order_by(Revision.document_id, Revision.seq)
    if document_id is not None:
        query = query.where(Revision.document_id == document_id)
    with database.transaction() as session:
        return list(session.scalars(query))


def _upload(url: str, token: str, data: bytes, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/documents",
        headers={**headers(token), "Idempotency-Key": key},
        files={"file": ("in.pdf", data, "application/pdf")},
        data={"title": "关于对象存储中断的测试", "kind": "letter"},
        timeout=120,
    )


def _sign(url: str, token: str, document_id: str, credential_id: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/documents/{document_id}/sign",
        headers={**headers(token), "Idempotency-Key": f"sign-{document_id}"},
        json={"credential_id": credential_id, "pin": PIN, "level": "B-T"},
        timeout=120,
    )


def _verified_valid(url: str, data: bytes) -> dict[str, object]:
    answer = httpx.post(f"{url}/v1/verify", files={"file": ("final.pdf", data, "application/pdf")}, timeout=120)
    assert answer.status_code == 200, answer.text
    report: dict[str, object] = answer.json()
    assert report["verdict"] == "valid", report["summary"]
    return report


def _unread_bytes(port: int) -> int:
    """Bytes sent to ``port`` that no process has read yet: the receive queues of its connections (/proc/net)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    total += int(fields[4].split(":")[1], 16)
    return total


def _store_dies_under(seaweed: SeaweedFS, request: Callable[[], httpx.Response]) -> httpx.Response:
    """``request``'s answer when the store dies in the middle of it: frozen first, so that the request's call to
    it waits unanswered, then killed once that call has arrived."""
    seaweed.pause()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(request)
        deadline = time.monotonic() + 60
        while _unread_bytes(seaweed.s3_port) == 0:
            assert not answer.done(), f"answered without the store: {answer.result().text}"
            assert time.monotonic() < deadline, "the request never reached the store"
            time.sleep(0.02)
        seaweed.stop()
        return answer.result()


def _outage(
    seaweed: SeaweedFS, database: Database, urls: list[str], token: str, worker: subprocess.Popen[bytes]
) -> None:
    """Kill the store in the middle of an upload, whose write then fails, then sign with it dead, whose read
    fails: both are 503 and write nothing. With the store back, the same requests, Idempotency-Keys and all,
    succeed."""
    first, second = urls
    credential = httpx.get(f"{first}/v1/credentials", headers=headers(token), timeout=30).json()[0]["id"]
    before_outage = _upload(first, token, make_pdf(text="before the outage"), "outage-before")
    assert before_outage.status_code == 201, before_outage.text
    document = before_outage.json()["id"]
    counts = _counts(database)
    new_pdf = make_pdf(text="during the outage")

    refused_upload = _store_dies_under(seaweed, lambda: _upload(second, token, new_pdf, "outage-upload"))
    refused_sign = _sign(first, token, document, credential)

    inbox = httpx.get(f"{second}/v1/inbox", headers=headers(token), timeout=30)
    assert inbox.status_code == 200, "what needs no PDF is still served"
    for refused in (refused_upload, refused_sign):
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "blob_store_unavailable", refused.text
    assert _counts(database) == counts, "a refused request left a document or revision behind"
    assert len(_revision_digests(database, document)) == 1

    seaweed.start()
    store = seaweed.object_store.under("topology").store()
    assert all(store.exists(digest) for digest in _revision_digests(database)), "a revision row without its object"
    uploaded = _upload(second, token, new_pdf, "outage-upload")
    signed = _sign(first, token, document, credential)

    assert uploaded.status_code == 201, uploaded.text
    assert signed.status_code == 200, signed.text
    replayed = _upload(first, token, new_pdf, "outage-upload")
    assert replayed.status_code == 200 and replayed.json()["id"] == uploaded.json()["id"], "replayed by the other"
    assert _counts(database) == (counts[0] + 1, counts[1] + 2)
    latest = httpx.get(f"{second}/v1/documents/{document}/pdf", headers=headers(token), timeout=60)
    assert latest.status_code == 200
    _verified_valid(first, latest.content)
    assert worker.poll() is None, "the worker survived the outage"


def test_two_api_processes_and_a_worker_share_postgresql_and_seaweedfs(
    tmp_path: Path, new_database: Callable[[], Database]
) -> None:
    database = new_database()
    require(database.dialect == "postgresql", "several processes on one database: set ESIGN_TEST_DATABASE_URL")
    with running(tmp_path / "seaweedfs") as seaweed:
        store = seaweed.object_store.under("topology")
        ports = free_ports(2)
        with balancing([f"http://127.0.0.1:{port}" for port in ports]) as balancer:
            env = shared_env(database, store, balancer.url)
            work = tmp_path / "work"
            shutil.copytree(ROOT / "docs" / "examples", work / "docs" / "examples")
            tokens = initialise(env, work / "var")
            with (
                api_process(env, tmp_path / "api-a", ports[0]) as a,
                api_process(env, tmp_path / "api-b", ports[1]) as b,
                started(
                    ["worker"], {**env, "ESIGN_DATA_DIR": str(tmp_path / "worker")}, tmp_path / "worker.log"
                ) as worker,
            ):
                out = _walkthrough(balancer, work, env)

                approvals = [f for f in balancer.forwarded if f.path.endswith("/approve")]
                assert len(approvals) == 8 and all(f.status == 200 for f in approvals), approvals
                assert {f.backend for f in approvals} == {a, b}, "each process took steps the other assigned"
                lines = out.strip().splitlines()
                assert "有效：全部 3 个签名有效" in out and "dispatch.receipt" in lines, out
                assert "delivered" in lines and "dead" not in lines, "the worker process delivered every event"
                [document] = re.findall(r"^DOC=(\S+)$", out, re.M)
                pdfs = [httpx.get(f"{u}/v1/documents/{document}/pdf", headers=headers(tokens[CLERK])) for u in (a, b)]
                assert pdfs[0].status_code == pdfs[1].status_code == 200
                assert pdfs[0].content == pdfs[1].content
                report = _verified_valid(b, pdfs[1].content)
                assert len(report["signatures"]) == 3, "sign-off, registration and seal"  # type: ignore[arg-type]
                root = httpx.get(f"{a}/pki/ca").text
                anchor = root[root.index("-----BEGIN", root.index("-----END")) :].encode()
                assert verify(pdfs[0].content, TrustSettings().with_anchors(anchor)).verdict == "valid"

                _outage(seaweed, database, [a, b], tokens[CLERK], worker)
