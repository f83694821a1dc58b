"""Blob throughput: put and get of 64 KiB, 1 MiB and 16 MiB blobs in SeaweedFS, next to the blob folder.

    python bench/blobs.py [--seconds 3] [--max-mib 256]

Starts a SeaweedFS (``weed server``, as the tests do: ``tests/seaweedfs.py``) in a temporary directory and
puts a folder store (``FilesystemBlobStore``) in the same directory, on the same disk. For each size, each
store and each operation in turn, it runs the store's own ``put`` and ``get`` (the calls the service makes:
SHA-256 of the bytes, the existence check and the write; the read and the re-hash) for ``--seconds`` or until
``--max-mib`` MiB went through, whichever comes first, and prints MB/s (10^6 bytes) and operations/s, with
SeaweedFS's rate as a multiple of the folder's.

Every put writes bytes not stored yet (a counter in the first eight bytes), so none is answered by the
existence check alone; gets read back what the puts wrote, in turn. Only the store calls are timed, not
making the bytes. The folder fsyncs every blob; SeaweedFS, one process on loopback, writes its volume
files without fsync by default: its figures are the HTTP and S3 overhead, not a disk's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from esign.blobs import BlobStore, FilesystemBlobStore  # noqa: E402
from tests.seaweedfs import running  # noqa: E402

KiB, MiB = 1024, 1024 * 1024
SIZES = (64 * KiB, MiB, 16 * MiB)


@dataclass(frozen=True)
class Options:
    seconds: float
    max_bytes: int


@dataclass(frozen=True)
class Rate:
    operations: int
    seconds: float
    size: int

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.operations * self.size / self.seconds / 1e6


def _measure(
    operation: Callable[[int], object], size: int, options: Options, prepare: Callable[[int], object] | None = None
) -> Rate:
    """Run ``operation(n)`` for n = 0, 1, ... until the time or byte budget is spent, at least three times;
    ``prepare(n)`` runs before each, off the clock."""
    spent, n = 0.0, 0
    while n < 3 or (spent < options.seconds and (n + 1) * size <= options.max_bytes):
        if prepare is not None:
            prepare(n)
        started = time.perf_counter()
        operation(n)
        spent += time.perf_counter() - started
        n += 1
    return Rate(n, spent, size)


class Workload:
    """Blobs of one size for one store: each put writes bytes not stored yet, gets read back what puts wrote."""

    def __init__(self, store: BlobStore, size: int, base: bytes) -> None:
        self.store = store
        self.size = size
        self.base = base[:size]
        self.payload = b""
        self.written: list[str] = []

    def make(self, n: int) -> None:
        self.payload = b""
        self.payload = n.to_bytes(8, "big") + self.base[8:]

    def put(self, _n: int) -> None:
        self.written.append(self.store.put(self.payload))

    def get(self, n: int) -> None:
        data = self.store.get(self.written[n % len(self.written)])
        assert len(data) == self.size


def _label(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // KiB} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per size, store and operation")
    parser.add_argument("--max-mib", type=int, default=256, help="bytes per size, store and operation, in MiB")
    args = parser.parse_args()
    options = Options(seconds=args.seconds, max_bytes=args.max_mib * MiB)
    base = os.urandom(max(SIZES))
    with tempfile.TemporaryDirectory(prefix="esign-bench-blobs-") as scratch, running(Path(scratch) / "weed") as weed:
        stores: dict[str, BlobStore] = {
            "folder": FilesystemBlobStore(Path(scratch) / "blobs"),
            "SeaweedFS": weed.object_store.under("bench").store(),
        }
        print(f"SeaweedFS ready in {weed.object_store.started_in_s:.1f} s; {os.cpu_count()} CPUs; {scratch}")
        print(f"{'size':>8} {'op':>4} | {'folder MB/s':>11} {'ops/s':>8} | {'SeaweedFS MB/s':>14} {'ops/s':>8} | ratio")
        for size in SIZES:
            workloads = {name: Workload(store, size, base) for name, store in stores.items()}
            puts = {name: _measure(w.put, size, options, w.make) for name, w in workloads.items()}
            gets = {name: _measure(w.get, size, options) for name, w in workloads.items()}
            for op, rates in (("put", puts), ("get", gets)):
                fs, s3 = rates["folder"], rates["SeaweedFS"]
                print(
                    f"{_label(size):>8} {op:>4} | {fs.mb_per_second:>11.1f} {fs.per_second:>8.1f} | "
                    f"{s3.mb_per_second:>14.1f} {s3.per_second:>8.1f} | {s3.per_second / fs.per_second:.2f}×"
                )


if __name__ == "__main__":
    main()
