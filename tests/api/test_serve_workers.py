"""``esign serve --workers N``: N server processes on one port, the connections handed to them in turn, the
background jobs once, and every process gone after the supervisor's SIGTERM (orderly) or SIGKILL (the kernel's
parent-death signal).

Real processes: ``esign init`` and ``esign serve --workers 2`` on a loopback port over SQLite, concurrent
requests, then a scan of ``/proc`` for what the supervisor had started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from asn1crypto import tsp

from tests.api.cli import ESIGN, esign
from tests.api.served import free_port, wait_until_healthy
from tests.api.test_children import Proc, _cmdline, _gone_within, descendants

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and relies on PR_SET_PDEATHSIG")


@contextmanager
def serving_workers(tmp_path: Path, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"ESIGN_DATA_DIR": str(tmp_path / "var"), "ESIGN_DATABASE_URL": ""}
    result = esign("init", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ESIGN), "serve", "--port", str(port), "--workers", str(workers)],
            env={**os.environ, **env},
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(process, url, output=log_path.read_text)
            yield process, url, log_path
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def _servers(supervisor: int) -> list[Proc]:
    """The supervisor's server processes (``python -m api.server_process``)."""
    return [p for p in descendants(supervisor) if p.ppid == supervisor and "api.server_process" in _cmdline(p.pid)]


def _established(pid: int, port: int) -> int:
    """How many TCP connections to ``port`` the process ``pid`` holds, from its descriptors and /proc/net/tcp."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        count += local_port == port and state == "01" and inode in inodes
    return count


def _wait_for_servers(process: subprocess.Popen[bytes], url: str, count: int) -> list[Proc]:
    """The first healthy answer may come before every process listens: ask until ``count`` of them are up."""
    for _ in range(300):
        if len(servers := _servers(process.pid)) >= count:
            return servers
        httpx.get(f"{url}/health", timeout=10)
    raise AssertionError(f"{len(_servers(process.pid))} server processes, expected {count}")


def test_two_processes_serve_one_port_sighup_replaces_them_and_sigterm_ends_everything(
    tmp_path: Path,
) -> None:
    with serving_workers(tmp_path, 2) as (process, url, log):
        servers = _wait_for_servers(process, url, 2)
        assert len(servers) == 2
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.get(f"{url}/pki/ca", timeout=30), range(40)))
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1, "every process serves the same PKI"
        public = httpx.get(f"{url}/openapi.json", timeout=30).json()
        assert public["info"]["title"] == "esign"

        # SIGHUP: the processes are replaced one by one, and requests meanwhile are answered.
        process.send_signal(signal.SIGHUP)
        before = {p.pid for p in servers}
        statuses = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses.add(httpx.get(f"{url}/health", timeout=30).status_code)
            after = {p.pid for p in _servers(process.pid)}
            if len(after) == 2 and not after & before:
                break
            time.sleep(0.05)
        assert not after & before, log.read_text()
        assert statuses == {200}

        everything = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0 or process.returncode in (-signal.SIGTERM, 0)
        left = _gone_within(everything, 60)
        assert not left, [_cmdline(p.pid) for p in left]

        text = log.read_text()
        assert text.count("worker started:") == 1, text
        assert text.count("Application startup complete") == 4, text


def test_keep_alive_connections_are_spread_over_the_processes_and_a_dead_one_is_replaced(tmp_path: Path) -> None:
    """Four keep-alive clients opened one after another on idle processes: two each. With one listening socket
    shared by the processes, the kernel often gave all four to the same one."""
    with serving_workers(tmp_path, 2) as (process, url, log):
        servers = _wait_for_servers(process, url, 2)
        deadline = time.monotonic() + 120
        while log.read_text().count("Application startup complete") < 2:  # both ready, so both take connections
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        port = int(url.rsplit(":", 1)[1])
        clients = [httpx.Client(base_url=url, timeout=30) for _ in range(4)]
        try:
            for client in clients:
                assert client.get("/health").status_code == 200
                time.sleep(0.2)  # each connection arrives when both processes are idle again
            held = sorted(_established(server.pid, port) for server in servers)
        finally:
            for client in clients:
                client.close()
        assert held == [2, 2], held

        # A server process that dies is replaced, and the port keeps answering meanwhile.
        os.kill(servers[0].pid, signal.SIGKILL)
        while not (replaced := {p.pid for p in _servers(process.pid)} - {s.pid for s in servers}):
            assert httpx.get(f"{url}/health", timeout=30).status_code == 200
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert f"server process {servers[0].pid} ended" in log.read_text() and "starting another" in log.read_text()
        assert len(replaced) == 1


def test_a_request_under_way_at_sigterm_is_answered(tmp_path: Path) -> None:
    """The supervisor stops handing out connections and each process finishes what it has (uvicorn's graceful
    shutdown): a time-stamp request whose body is still arriving when SIGTERM comes gets its reply."""
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(32)},
            "cert_req": True,
        }
    ).dump()
    with serving_workers(tmp_path, 2) as (process, url, log):
        _wait_for_servers(process, url, 2)
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=60) as connection:
            head = (
                f"POST /pki/tsa HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/timestamp-query\r\n"
                f"Content-Length: {len(request)}\r\nConnection: close\r\n\r\n"
            )
            connection.sendall(head.encode() + request[:10])
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            time.sleep(1)
            connection.sendall(request[10:])
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), (answer[:200], log.read_text())
        assert b"application/timestamp-reply" in answer
        assert process.wait(timeout=60) == 0, log.read_text()


def test_the_server_processes_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    with serving_workers(tmp_path, 2) as (process, url, _log):
        servers = _wait_for_servers(process, url, 2)
        everything = descendants(process.pid)
        process.kill()
        process.wait(timeout=30)
        left = _gone_within(everything, 60)
        assert not left, [_cmdline(p.pid) for p in left]
        assert servers


@pytest.mark.parametrize(
    ("machine", "processes", "each"), [(2, 1, 2), (2, 2, 2), (4, 8, 2), (4, 2, 2), (4, 1, 4), (3, 2, 2), (1, 4, 1)]
)
def test_the_processes_share_the_machines_parsing_workers(machine: int, processes: int, each: int) -> None:
    from api.cli import shared_parse_workers

    assert shared_parse_workers(machine, processes) == each
