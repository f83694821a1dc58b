"""A directory of its own for one request's large files, removed when the request is done with them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


class Spool:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="esign-upload-"))

    def path(self, name: str) -> Path:
        return self.directory / name

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
