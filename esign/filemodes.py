"""Files only the service's own account can read: directories 0700, files 0600 (blobs 0400).

The data directory holds every stored document, the PIN-wrapped keys in the SQLite database and, in the
embedded default, the CA passphrase: readable by another local account, they could be copied and six-digit
PINs brute-forced offline. ``os.makedirs(mode=...)`` and ``open()`` honour the umask, which under the usual
022 leaves 0755 and 0644, so everything here asks for the narrow mode at creation (the umask can only take
bits away, so the file is never wider, not even for an instant) and sets it again explicitly (so that an
unusual umask such as 0277 cannot leave the service unable to write its own files).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
OPEN_TO_OTHERS = 0o077
"""Group and other permission bits: none of them may be set on what the service keeps."""


def private_directory(path: Path) -> Path:
    """``mkdir -p`` that makes each directory it creates 0700. Directories that exist are left as they are:
    fixing those is ``make_private``'s job (``esign init``), not a side effect of every write."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIRECTORY)
        except FileExistsError:
            continue  # made by a concurrent writer, which made it private too
        os.chmod(directory, PRIVATE_DIRECTORY)
    return path


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to a 0600 file; ``exclusive`` refuses to replace one that exists (FileExistsError).

    A file that exists keeps its mode through ``O_TRUNC``, so the mode is set before the first byte."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(fd, PRIVATE_FILE)
        f.write(data)


def create_private(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists (for files another library opens and fills, such as
    SQLite's database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def narrow_if_present(path: Path) -> None:
    """Take group and other access off ``path`` if it exists (SQLite's -wal and -shm, which it creates itself)."""
    try:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    if mode & OPEN_TO_OTHERS:
        os.chmod(path, mode & ~OPEN_TO_OTHERS)


@dataclass(frozen=True)
class Private:
    """What the service keeps: single paths (the data directory, its files) and trees whose every directory
    and file is the service's (the blob store). Paths that do not exist are skipped."""

    paths: tuple[Path, ...]
    trees: tuple[Path, ...] = ()

    def wide(self, *, tree_files: bool = True) -> Iterator[tuple[Path, int]]:
        """Each path open to group or others, with its mode. Without ``tree_files``, only the trees'
        directories are looked at: a 0700 directory already keeps everything under it from other accounts,
        and a store of a million blobs is not worth a million ``stat`` calls at every start."""
        for path, mode in self._walk(tree_files=tree_files):
            if mode & OPEN_TO_OTHERS:
                yield path, mode

    def make_private(self) -> list[Path]:
        """Take group and other access off everything (0755 → 0700, 0644 → 0600, a blob's 0444 → 0400);
        the paths it changed."""
        changed: list[Path] = []
        for path, mode in self._walk(tree_files=True):
            if mode & OPEN_TO_OTHERS:
                os.chmod(path, mode & ~OPEN_TO_OTHERS)
                changed.append(path)
        return changed

    def _walk(self, *, tree_files: bool) -> Iterator[tuple[Path, int]]:
        seen: set[Path] = set()
        for path in (*self.paths, *self.trees):
            if path in seen:
                continue
            seen.add(path)
            # The named paths themselves are followed if symbolic links (a data directory linked elsewhere is
            # common); inside a tree, links are neither followed nor changed.
            mode = _mode(path, follow=True)
            if mode is not None:
                yield path, mode
        for tree in self.trees:
            if _mode(tree, follow=True) is not None:
                yield from _tree(tree, tree_files=tree_files)


def _mode(path: Path, *, follow: bool) -> int | None:
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return None
    return stat.S_IMODE(st.st_mode)


def _tree(root: Path, *, tree_files: bool) -> Iterator[tuple[Path, int]]:
    for directory, subdirectories, files in os.walk(root):
        names: Iterable[str] = subdirectories if not tree_files else (*subdirectories, *files)
        for name in names:
            path = Path(directory) / name
            mode = _mode(path, follow=False)
            if mode is not None:
                yield path, mode
