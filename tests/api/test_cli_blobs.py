"""``esign blobs migrate`` and ``esign blobs check``, run as the installed command against SeaweedFS."""

from __future__ import annotations

from pathlib import Path

from esign.blobs import FilesystemBlobStore
from tests.api.cli import esign
from tests.seaweedfs import ObjectStore


def _env(data_dir: Path, s3: ObjectStore) -> dict[str, str]:
    return {
        "ESIGN_DATA_DIR": str(data_dir),
        "ESIGN_BLOB_URL": s3.url,
        "ESIGN_S3_ACCESS_KEY_ID": s3.access_key_id or "",
        "ESIGN_S3_SECRET_ACCESS_KEY": s3.secret_access_key or "",
    }


def test_migrate_then_check(tmp_path: Path, s3: ObjectStore) -> None:
    folder = FilesystemBlobStore(tmp_path / "var" / "blobs")
    digests = [folder.put(b"%PDF-1.7 one"), folder.put(b"%PDF-1.7 two")]
    env = _env(tmp_path / "var", s3)

    migrated = esign("blobs", "migrate", env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert "2 blob(s) copied, 0 already there" in migrated.stdout
    assert sorted(s3.store().digests()) == sorted(digests)

    checked = esign("blobs", "check", "--all", env=env)

    assert checked.returncode == 0, checked.stderr
    assert "2 blob(s) intact" in checked.stdout

    store = s3.store()
    s3.client().put_object(Bucket=store.location.bucket, Key=store.key(digests[1]), Body=b"damaged")
    damaged = esign("blobs", "check", "--sample", "5", env=env)

    assert damaged.returncode == 1
    lines = damaged.stderr.strip().splitlines()
    assert lines[0].startswith(f"blob_corrupted (store) {digests[1]}: ")
    assert lines[-1] == "1 of 2 blob(s) damaged or missing"


def test_migrate_reports_a_damaged_source_blob_and_copies_the_rest(tmp_path: Path, s3: ObjectStore) -> None:
    folder = FilesystemBlobStore(tmp_path / "var" / "blobs")
    intact, damaged = folder.put(b"%PDF-1.7 intact"), folder.put(b"%PDF-1.7 damaged")
    path = folder.root / damaged[:2] / damaged[2:4] / damaged
    path.chmod(0o600)
    path.write_bytes(b"no longer the PDF")

    result = esign("blobs", "migrate", env=_env(tmp_path / "var", s3))

    assert result.returncode == 1
    assert f"blob_corrupted (source) {damaged}" in result.stderr
    assert list(s3.store().digests()) == [intact]


def test_check_takes_all_or_a_sample(tmp_path: Path) -> None:
    result = esign("blobs", "check", "--all", "--sample", "3", env={"ESIGN_DATA_DIR": str(tmp_path)})

    assert result.returncode == 2
    assert "--all or --sample" in result.stderr


def test_an_unreachable_store_is_one_line(tmp_path: Path) -> None:
    env = {
        "ESIGN_DATA_DIR": str(tmp_path),
        "ESIGN_BLOB_URL": "s3://esign-blobs?endpoint=http://127.0.0.1:1",
        "ESIGN_S3_ACCESS_KEY_ID": "key",
        "ESIGN_S3_SECRET_ACCESS_KEY": "secret",
    }

    result = esign("blobs", "check", env=env)

    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot list in bucket esign-blobs at http://127.0.0.1:1: ")
    assert len(result.stderr.strip().splitlines()) == 1
