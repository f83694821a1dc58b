"""Chinese line breaking (禁则): where a line of Chinese text may end.

Any two ideographs may be split, but no line may begin with closing punctuation (，。、；：？！）」》”’… and the
like) nor end with opening punctuation (（「《“‘ …); a run of Latin letters and digits (a year, a figure, a word)
stays whole; the two halves of —— and …… stay together. When the character that would start the next line may
not, characters move down with it (推出), so a line never holds more than the grid allows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

CLOSING = frozenset("，。、；：？！）」』》〉】〕〗”’…‥·％‰，．：；？！）］｝!%),.:;?]}")
OPENING = frozenset("（「『《〈【〔〖“‘（［｛([{")
_PAIRED = frozenset("—…")
_EPSILON = 1e-6


def _word(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "._-/@+#&")


def may_break(text: str, at: int) -> bool:
    """Whether a line may end just before ``text[at]``."""
    if at <= 0 or at >= len(text):
        return True
    before, after = text[at - 1], text[at]
    if after in CLOSING or before in OPENING:
        return False
    if before == after and before in _PAIRED:
        return False
    return not (_word(before) and _word(after))


def break_lines(text: str, widths: Sequence[float], available: Callable[[int], float]) -> list[tuple[int, int]]:
    """Split ``text`` into lines; ``widths[i]`` is the width of ``text[i]`` and ``available(n)`` the width of line n.

    Returns (start, end) index pairs. Each line takes as much as fits, then gives back characters until it ends
    where a break is allowed; a line with no allowed break at all is cut where it is full.
    """
    lines: list[tuple[int, int]] = []
    start, length = 0, len(text)
    while start < length:
        room = available(len(lines))
        end, used = start, 0.0
        while end < length and used + widths[end] <= room + _EPSILON:
            used += widths[end]
            end += 1
        if end == start:
            end = start + 1
        if end < length:
            cut = end
            while cut > start + 1 and not may_break(text, cut):
                cut -= 1
            if may_break(text, cut):
                end = cut
        lines.append((start, end))
        start = end
    return lines
