"""What esign keeps on disk is its account's alone: directories 0700, files 0600, blobs 0400, under the
usual umask 022 that would leave 0755 and 0644.

Real processes: ``esign init`` and ``esign serve`` as a user runs them, with the embedded SQLite default.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from esign.blobs import FilesystemBlobStore
from esign.filemodes import Private, create_private, private_directory, write_private
from tests.api.cli import ESIGN, esign
from tests.api.served import free_port, wait_until_healthy
from tests.conftest import make_pdf

CLERK = "王芳"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """022, which the processes started here inherit."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _env(data_dir: Path, url: str = "http://127.0.0.1:8000") -> dict[str, str]:
    # An empty database URL is the embedded default: esign.db in the data directory.
    return {"ESIGN_DATA_DIR": str(data_dir), "ESIGN_PUBLIC_URL": url, "ESIGN_DATABASE_URL": ""}


def _init(tmp_path: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    result = esign("init", env=_env(data_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and ``root`` itself, as "."), with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for directory, subdirectories, files in os.walk(root):
        for name in (*subdirectories, *files):
            path = Path(directory) / name
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _expected(root: Path, relative: str) -> int:
    path = root / relative
    if path.is_dir():
        return 0o700
    return 0o400 if relative.startswith("blobs/") else 0o600


def _assert_private(root: Path) -> None:
    modes = _modes(root)
    wrong = {p: oct(m) for p, m in modes.items() if m != _expected(root, p)}
    assert wrong == {}, modes


@contextmanager
def _serving(tmp_path: Path, data_dir: Path) -> Iterator[tuple[str, Path]]:
    """``esign serve`` on a free port; its URL and the file its stderr goes to."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stderr = tmp_path / "serve.stderr"
    with stderr.open("wb") as errors, (tmp_path / "serve.stdout").open("wb") as output:
        process = subprocess.Popen(
            [str(ESIGN), "serve", "--port", str(port), "--no-worker"],
            env={**os.environ, **_env(data_dir, url)},
            cwd=tmp_path,
            stdout=output,
            stderr=errors,
        )
        try:
            wait_until_healthy(process, url, output=stderr.read_text)
            yield url, stderr
        finally:
            process.terminate()
            process.wait(timeout=30)


def _tokens(data_dir: Path) -> dict[str, str]:
    lines = (data_dir / "demo-tokens.tsv").read_text(encoding="utf-8").splitlines()
    return {official: token for token, _org, official, _roles in (line.split("\t") for line in lines)}


def test_init_and_a_stored_document_leave_nothing_open_to_other_users(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    _init(tmp_path, data_dir)
    assert {"esign.db", "ca-passphrase", "demo-tokens.tsv", "blobs"} <= set(_modes(data_dir))
    _assert_private(data_dir)

    with _serving(tmp_path, data_dir) as (url, stderr):
        created = httpx.post(
            f"{url}/v1/documents",
            headers={"Authorization": f"Bearer {_tokens(data_dir)[CLERK]}"},
            files={"file": ("in.pdf", make_pdf(), "application/pdf")},
            timeout=60,
        )
        assert created.status_code == 201, created.text
        # While it runs, SQLite's -wal and -shm are there too.
        assert {"esign.db-wal", "esign.db-shm"} <= set(_modes(data_dir))
        _assert_private(data_dir)
    assert "warning" not in stderr.read_text()
    blobs = [p for p in _modes(data_dir) if p.startswith("blobs/")]
    assert any(len(Path(p).name) == 64 for p in blobs), blobs
    _assert_private(data_dir)


def test_init_closes_a_data_directory_left_open(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    _init(tmp_path, data_dir)
    digest = FilesystemBlobStore(data_dir / "blobs").put(make_pdf())
    # As an older esign (or a copy, a restore from backup) left it: the umask's modes, write-once blobs 0444.
    for relative in _modes(data_dir):
        path = data_dir / relative
        path.chmod(0o755 if path.is_dir() else 0o444 if relative.startswith("blobs/") else 0o644)
    theirs = data_dir / "notes.txt"
    theirs.write_text("not esign's")
    theirs.chmod(0o644)

    result = _init(tmp_path, data_dir)

    assert "readable by this account only" in result.stdout
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o644  # not esign's: left as it was
    theirs.unlink()
    _assert_private(data_dir)
    assert stat.S_IMODE((data_dir / "blobs" / digest[:2] / digest[2:4] / digest).stat().st_mode) == 0o400


def test_init_leaves_files_that_are_not_esigns_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    theirs = data_dir / "notes.txt"
    theirs.write_text("not esign's")
    _init(tmp_path, data_dir)
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o644
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize("opened", ["esign.db", ".", "blobs"])
def test_serve_warns_about_what_it_finds_open(tmp_path: Path, opened: str) -> None:
    data_dir = tmp_path / "var"
    _init(tmp_path, data_dir)
    (data_dir / opened).chmod(0o755 if (data_dir / opened).is_dir() else 0o644)

    with _serving(tmp_path, data_dir) as (_url, stderr):
        pass

    warnings = [line for line in stderr.read_text().splitlines() if "warning" in line]
    path = data_dir if opened == "." else data_dir / opened
    assert len(warnings) == 1, stderr.read_text()
    assert str(path) in warnings[0] and "esign init" in warnings[0], warnings


def test_the_helpers_set_modes_whatever_the_umask(tmp_path: Path) -> None:
    """Even an umask that takes the owner's own bits away cannot leave a file the service cannot write."""
    os.umask(0o277)
    made = private_directory(tmp_path / "a" / "b")
    write_private(made / "secret", b"x")
    create_private(made / "db")
    for path in (tmp_path / "a", made):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for path in (made / "secret", made / "db"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        write_private(made / "secret", b"y", exclusive=True)
    assert (made / "secret").read_bytes() == b"x"


def test_private_neither_follows_nor_changes_links_inside_a_tree(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("someone else's")
    outside.chmod(0o644)
    tree = private_directory(tmp_path / "blobs")
    (tree / "link").symlink_to(outside)
    kept = Private((), trees=(tree,))
    assert list(kept.wide()) == [] and kept.make_private() == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
