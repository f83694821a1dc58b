"""Keys unsealed for live SADs in this process, so a SAD's later batches skip the unseal and the parse."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..ca import PrivateKey


class KeyCache:
    """A bounded, least-recently-used map from a SAD's hash to its credential's unsealed key.

    An entry is only ever used after the SAD's row has been found and checked, and it is keyed by the
    SAD's hash and the credential: it saves work, never a check.
    """

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[str, tuple[str, PrivateKey]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, sad_hash: str, credential_id: str) -> PrivateKey | None:
        with self._lock:
            item = self._items.get(sad_hash)
            if item is None or item[0] != credential_id:
                return None
            self._items.move_to_end(sad_hash)
            return item[1]

    def put(self, sad_hash: str, credential_id: str, key: PrivateKey) -> None:
        with self._lock:
            self._items[sad_hash] = (credential_id, key)
            self._items.move_to_end(sad_hash)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, sad_hash: str) -> None:
        with self._lock:
            self._items.pop(sad_hash, None)


keys = KeyCache()
"""This process's cache, shared by ``authorize`` (which fills it) and ``spend`` (which reads and empties it)."""
