"""A served process tree as ``/proc`` shows it (Linux): whether a process lives, its descendants, their RSS.

Shared by the hostile-PDF tests and ``bench/health_under_attack.py``, which watch ``esign serve`` and its
parsing workers from outside.
"""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (which is in parentheses and may hold spaces)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    """Running, or at least not a zombie waiting for its parent to reap it."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every process whose chain of parents reaches ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(stat[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def rss(pid: int, *, tree: bool = True) -> int:
    """VmRSS of ``pid`` in bytes, with every process under it unless ``tree`` is false."""
    total = 0
    for each in {pid, *descendants(pid)} if tree else {pid}:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    return total
