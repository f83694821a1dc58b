"""A directory of its own for one request's large files, removed when the request is done with them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path


class Spool:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="esign-upload-"))

    def path(self, name: str) -> Path:
        return self.directory / name

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def removed_on_error(spool: Spool | None) -> Iterator[None]:
    """Removes ``spool`` if the block raises, whatever it raises (a cancelled request's too), and keeps it when
    the block ends normally: its files are then the caller's to use and remove."""
    with ExitStack() as on_error:
        if spool is not None:
            on_error.callback(spool.remove)
        yield
        on_error.pop_all()
