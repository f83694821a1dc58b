"""Finding the CJK TrueType faces used in signature appearances and reports.

Names of officials and organisations are Chinese, so every text the engine draws needs a CJK face; it is
embedded as a subset. The defaults are free faces packaged by Debian; a deployment points ``ESIGN_FONT_DIRS``
at its licensed faces (e.g. 方正小标宋, 仿宋_GB2312) and they are preferred when their file names are listed
first in ``CANDIDATES``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from .errors import AppearanceError

SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")

CANDIDATES = (
    "simsun.ttf",  # 宋体, if a deployment supplies it
    "gbsn00lp.ttf",  # AR PL SungtiL GB (Debian fonts-arphic-gbsn00lp)
    "gkai00mp.ttf",  # AR PL KaitiM GB (Debian fonts-arphic-gkai00mp)
)

SEAL_CANDIDATES = (
    "simhei.ttf",  # 黑体, if a deployment supplies it
    "wqy-zenhei.ttc",  # WenQuanYi Zen Hei (Debian fonts-wqy-zenhei)
)
"""Faces for a seal's name: a heavy sans face (黑体), whose strokes survive printing and photocopying at the
size a seal sets them; the thin strokes of a Song face break up. ``seal_font`` falls back on ``cjk_font``."""


@lru_cache(maxsize=8)
def _find(dirs: tuple[Path, ...], candidates: tuple[str, ...] = CANDIDATES) -> Path | None:
    for name in candidates:
        for folder in dirs:
            if not folder.is_dir():
                continue
            direct = folder / name
            if direct.is_file():
                return direct
            found = next(folder.rglob(name), None)
            if found is not None:
                return found
    return None


def cjk_font(extra_dirs: Iterable[Path] = ()) -> Path:
    """Path of a TrueType face covering simplified Chinese; ``AppearanceError`` naming the fix if none."""
    found = _find((*tuple(extra_dirs), *SYSTEM_FONT_DIRS))
    if found is None:
        raise AppearanceError(
            "no CJK TrueType font found for the signature appearance: install the Debian package "
            "fonts-arphic-gbsn00lp or point ESIGN_FONT_DIRS at a folder holding one of " + ", ".join(CANDIDATES)
        )
    return found


def seal_font(extra_dirs: Iterable[Path] = ()) -> Path:
    """Path of the face a seal's name is set in: the first of ``SEAL_CANDIDATES`` found, else ``cjk_font``."""
    return _find((*tuple(extra_dirs), *SYSTEM_FONT_DIRS), SEAL_CANDIDATES) or cjk_font(extra_dirs)


def subset_tag(*parts: bytes) -> str:
    """The six capital letters before the ``+`` of a subset font's name (ISO 32000-1 §9.6.4).

    The standard only asks that different subsets in one file have different tags; deriving the tag from
    what makes the subset (its font program, or its face and characters) gives that across incremental
    updates made by different processes, which a counter or a random draw does not.
    """
    digest = hashlib.sha256(b"\0".join(parts)).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])
