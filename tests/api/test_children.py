"""Child processes end with ``esign serve``: the CSC signing process and multiprocessing's resource tracker
are gone after a SIGTERM, and after a SIGKILL too (the kernel's parent-death signal, ``esign.children``).

Real processes: ``esign init`` and ``esign serve`` on a loopback port, one ``signHash`` to start the signing
process, then the signal, then a scan of ``/proc`` for what the server had started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings
from keys.signing_process import DigestSigning, signing_process
from tests.api.cli import ESIGN, esign
from tests.api.served import free_port, wait_until_healthy
from tests.csc.helpers import authorize, call, digests, sign_hash

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and relies on PR_SET_PDEATHSIG")

OFFICIAL = "李强"
DEMO_PIN = "123456"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    start: int
    """Start time in clock ticks since boot: a pid reused by another process has another."""


def _stat(pid: int) -> Proc | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return Proc(pid=pid, ppid=int(fields[1]), state=fields[0], start=int(fields[19]))


def _all() -> list[Proc]:
    found = (_stat(int(name)) for name in os.listdir("/proc") if name.isdigit())
    return [p for p in found if p is not None]


def descendants(root: int) -> list[Proc]:
    """Every process whose chain of parents reaches ``root``."""
    procs = _all()
    children: dict[int, list[Proc]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    found: list[Proc] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child.pid)
    return found


def alive(p: Proc) -> bool:
    """Still running: the same process (same start time), not a zombie waiting for a parent to reap it."""
    now = _stat(p.pid)
    return now is not None and now.start == p.start and now.state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


@contextmanager
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, str]]]:
    """``esign init`` then ``esign serve`` on SQLite in ``tmp_path``; the server, its URL and the demo tokens."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"ESIGN_DATA_DIR": str(tmp_path / "var"), "ESIGN_PUBLIC_URL": url, "ESIGN_DATABASE_URL": ""}
    result = esign("init", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    tokens = {}
    for line in (tmp_path / "var" / "demo-tokens.tsv").read_text(encoding="utf-8").splitlines():
        token, _org, official, _roles = line.split("\t")
        tokens[official] = token
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(ESIGN), "serve", "--port", str(port), "--no-worker"],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_healthy(process, url, output=(tmp_path / "serve.log").read_text)
        yield process, url, tokens
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)
        log.close()


def _sign_once(url: str, token: str) -> None:
    """One CSC signature, which starts the signing process. The first signHash waits for that process to
    start, seconds on a loaded machine, so the client waits longer than httpx's default 5 s."""
    with httpx.Client(timeout=60) as http:
        listed = http.post(f"{url}/csc/v1/credentials/list", json={}, headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200, listed.text
        [credential_id] = listed.json()["credentialIDs"]
        info = call(http, "v1", "credentials/info", token, {"credentialID": credential_id}, base=url)
        assert info.status_code == 200, info.json()
        values = digests(1)
        sad = authorize(http, token, credential_id, DEMO_PIN, n=1, base=url)
        signed = sign_hash(http, token, credential_id, sad, values, base=url)
        assert signed.status_code == 200, signed.json()


def _gone_within(procs: list[Proc], seconds: float) -> list[Proc]:
    deadline = time.monotonic() + seconds
    while (left := [p for p in procs if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _children_after_signing(process: subprocess.Popen[bytes], url: str, tokens: dict[str, str]) -> list[Proc]:
    _sign_once(url, tokens[OFFICIAL])
    children = descendants(process.pid)
    commands = [_cmdline(p.pid) for p in children]
    assert any("multiprocessing" in c and "resource_tracker" not in c for c in commands), commands
    assert any("resource_tracker" in c for c in commands), commands
    return children


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_children_end_with_the_server_on_sigterm_and_sigint(tmp_path: Path, sig: signal.Signals) -> None:
    with serving(tmp_path) as (process, url, tokens):
        children = _children_after_signing(process, url, tokens)
        process.send_signal(sig)
        process.wait(timeout=30)
        assert _gone_within(children, 10) == []
        assert descendants(process.pid) == []


def test_children_end_even_when_the_server_is_killed(tmp_path: Path) -> None:
    """SIGKILL runs nothing in the server: the signing process dies by its parent-death signal, and the
    resource tracker when the last holder of its pipe has gone."""
    with serving(tmp_path) as (process, url, tokens):
        children = _children_after_signing(process, url, tokens)
        process.kill()
        process.wait(timeout=30)
        assert _gone_within(children, 10) == []


def test_the_signing_process_outlives_the_thread_that_first_asked_for_it() -> None:
    """The parent-death signal follows the *thread* that started a child; the signing process is started on
    a lasting one, so a request thread that signed and then ended (as a server's idle threads do) leaves it
    running for the next batch."""
    key = ec.generate_private_key(ec.SECP256R1())
    how = DigestSigning(scheme="ecdsa", hash="sha256")
    signing_process.close()
    try:
        worker = threading.Thread(target=signing_process.sign, args=(key, how, digests(1)))
        worker.start()
        worker.join()
        [pid] = signing_process.pids()
        time.sleep(0.5)  # the parent-death signal would have arrived by now
        assert len(signing_process.sign(key, how, digests(2))) == 2
        assert signing_process.pids() == [pid]
        started = _stat(pid)
        assert started is not None and alive(started)
    finally:
        signing_process.close()


def test_the_app_stops_the_signing_process_when_it_stops(settings: Settings) -> None:
    """The orderly path, which SIGTERM takes: the lifespan closes the child before uvicorn re-raises the
    signal (the parent-death signal would otherwise be all that ends it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    with TestClient(create_app(settings)):
        signing_process.sign(key, DigestSigning(scheme="ecdsa", hash="sha256"), digests(1))
        [pid] = signing_process.pids()
        child = _stat(pid)
        assert child is not None and alive(child)
    assert signing_process.pids() == []
    assert _gone_within([child], 10) == []
