"""Batches of digests signed with software keys in a process of its own (the CSC API's ``signHash``).

cryptography releases the GIL for every signature, so a thread of the API process that signs a batch must
win the GIL back after each one from the threads serving HTTP and the database; whenever one of them holds
it, the signer waits up to the interpreter's switch interval (5 ms). An ECDSA signature takes tens of
microseconds, so under concurrent requests a batch of 100 spent most of its time waiting. A process of its
own waits for nobody, and the API process goes on serving meanwhile.

The key goes with each batch, as PKCS#8 DER through the pipe to a child that the API process started
itself (same user, same machine); the child keeps nothing between batches. A child that dies fails its
batch as a broken device would (``SigningUnavailable``: the SAD gets the batch back), and the next batch
starts a new one. The child imports this module alone: cryptography, nothing of the service (and the
standard library's ``esign.children``).

The child ends with the API process: the app's lifespan closes it on an orderly stop, and the child asked
the kernel to kill it if the API process dies without one (``esign.children``); it is started on the
lasting thread that this needs.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from esign.children import die_with_parent, from_lasting_thread

from .errors import SigningUnavailable

HashName = Literal["sha256", "sha384", "sha512"]
Scheme = Literal["pkcs1v15", "pss", "ecdsa"]
_HASH_CLASSES: dict[HashName, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
BATCH_TIMEOUT_S = 120.0
"""Long enough for the largest batch (1000 RSA-4096 signatures) on a busy machine."""


@dataclass(frozen=True)
class DigestSigning:
    """How each digest is signed: the scheme, the hash it was made with, and the PSS salt length."""

    scheme: Scheme
    hash: HashName
    salt_length: int | None = None


SoftwareKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def sign_digests(key: SoftwareKey, how: DigestSigning, digests: Sequence[bytes]) -> list[bytes]:
    """Each digest signed as prehashed: per digest, the private-key operation alone. RSASSA-PKCS1-v1_5,
    RSASSA-PSS (MGF1 over the same hash) or ECDSA (DER ``Ecdsa-Sig-Value``)."""
    prehashed = Prehashed(_HASH_CLASSES[how.hash]())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        ecdsa = ec.ECDSA(prehashed)
        return [key.sign(d, ecdsa) for d in digests]
    pad: padding.AsymmetricPadding = padding.PKCS1v15()
    if how.scheme == "pss":
        assert how.salt_length is not None
        pad = padding.PSS(mgf=padding.MGF1(_HASH_CLASSES[how.hash]()), salt_length=how.salt_length)
    return [key.sign(d, pad, prehashed) for d in digests]


def _sign_in_child(key_der: bytes, how: DigestSigning, digests: Sequence[bytes]) -> list[bytes]:
    # The bytes came from a key object of the parent, which was checked when it was unsealed.
    key = serialization.load_der_private_key(key_der, password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
    return sign_digests(key, how, digests)


class SigningProcess:
    """One child process, started at the first batch, that signs the batches of every thread in turn."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def sign(self, key: SoftwareKey, how: DigestSigning, digests: Sequence[bytes]) -> list[bytes]:
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pool = self._running()
        try:
            return pool.submit(_sign_in_child, der, how, tuple(digests)).result(timeout=BATCH_TIMEOUT_S)
        except BrokenProcessPool:
            self._discard(pool)
            raise SigningUnavailable("the signing process stopped; nothing was signed, try again") from None
        except TimeoutError:
            self._discard(pool)
            raise SigningUnavailable(f"the signing process did not answer in {BATCH_TIMEOUT_S:.0f} s") from None
        except RuntimeError:
            # Closed meanwhile: the app is stopping (submit refuses a shut-down pool).
            raise SigningUnavailable("the signing process is stopping; nothing was signed, try again") from None

    def pids(self) -> list[int]:
        """The child's process id, once started (for monitoring)."""
        with self._lock:
            pool = self._pool
        # ProcessPoolExecutor does not expose its workers otherwise.
        workers = {} if pool is None else pool._processes  # noqa: SLF001
        return [p.pid for p in list(workers.values()) if p.pid is not None]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = from_lasting_thread(_start_pool)
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


def _start_pool() -> ProcessPoolExecutor:
    # Spawned, never forked: the API process runs threads, and a fork copies their locks held.
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
    # The worker is spawned by the first submit, on the calling thread: this one, which lasts.
    pool.submit(_ready)
    return pool


def _ready() -> None:
    """The first task, which makes the pool start its worker."""


signing_process = SigningProcess()
"""This process's signing process, for every application in it. An app's lifespan closes it when the app
stops (the next batch starts another); ``concurrent.futures`` also stops it when the interpreter exits."""
