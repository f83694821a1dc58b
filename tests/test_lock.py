"""The lock is what got installed: the running environment holds exactly requirements/test.lock's pins.

``make test`` installs with ``pip install --require-hashes --no-deps -r requirements/test.lock``; a package
installed by hand, left over from an older lock or missing would make the tests pass against something
the lock does not describe.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
TEST_LOCK = ROOT / "requirements" / "test.lock"
NOT_LOCKED = {"pip", "esign"}  # the installer itself, and the project, installed editable after the lock
BOUNDED = ("cryptography", "pyhanko", "sqlalchemy", "fastapi", "pydantic")
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>[^\\]*?))?\s*(?P<rest>--.*)?$"
)


def entries(lock: Path) -> list[str]:
    """The lock's requirement entries, each with its backslash-continued lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", lock.read_text(encoding="utf-8"))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def pins(lock: Path) -> dict[str, tuple[str, str | None, list[str]]]:
    """name -> (version, environment marker, hashes) for every entry."""
    found: dict[str, tuple[str, str | None, list[str]]] = {}
    for entry in entries(lock):
        match = PIN.match(entry)
        assert match, f"not a name==version pin: {entry[:120]}"
        marker = (match["marker"] or "").strip() or None
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", match["rest"] or "")
        found[canonicalize_name(match["name"])] = (match["version"], marker, hashes)
    return found


def wanted_here(lock: Path) -> dict[str, str]:
    """The pins whose environment marker holds for this interpreter and platform."""
    return {
        name: version
        for name, (version, marker, _) in pins(lock).items()
        if marker is None or Marker(marker).evaluate()
    }


def installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name not in NOT_LOCKED:
            found[name] = dist.version
    return found


def test_the_environment_is_exactly_the_lock() -> None:
    want, have = wanted_here(TEST_LOCK), installed()
    missing = {name: version for name, version in want.items() if name not in have}
    extra = {name: version for name, version in have.items() if name not in want}
    other = {
        name: f"locked {want[name]}, installed {have[name]}"
        for name in want.keys() & have.keys()
        if want[name] != have[name]
    }
    assert not (missing or extra or other), (
        f"the environment is not requirements/test.lock:\n  missing: {missing}\n  not in the lock: {extra}\n"
        f"  other versions: {other}\n(re-create it: rm -rf .venv && make test)"
    )


def test_the_parser_reads_markers_and_hashes(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text(
        "a-b==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via c\n"
        "colorama==0.4.6 ; sys_platform == 'nonesuch' \\\n    --hash=sha256:" + "1" * 64 + " \\\n"
        "    --hash=sha256:" + "2" * 64 + "\n",
        encoding="utf-8",
    )
    assert pins(lock) == {
        "a-b": ("1.0", None, ["0" * 64]),
        "colorama": ("0.4.6", "sys_platform == 'nonesuch'", ["1" * 64, "2" * 64]),
    }
    assert wanted_here(lock) == {"a-b": "1.0"}


def test_every_pin_has_a_hash() -> None:
    for lock in sorted((ROOT / "requirements").glob("*.lock")):
        found = pins(lock)
        assert len(found) > 10, lock
        unhashed = sorted(name for name, (_, _, hashes) in found.items() if not hashes)
        assert not unhashed, f"{lock.name}: pins without --hash=sha256: {unhashed}"


def test_the_libraries_that_break_apis_have_an_upper_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}
    for name in BOUNDED:
        assert name in declared, f"{name} is not a dependency any more; update BOUNDED"
        operators = {spec.operator for spec in declared[name].specifier}
        assert operators & {"<", "<=", "==", "~=", "==="}, f"{declared[name]} has no upper bound"
