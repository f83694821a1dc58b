"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

Eighteen characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z): the
registration authority, the organisation category, the six-digit administrative division, the nine-character
organisation code, and a check character computed over the first seventeen (§4.4 and Annex B).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is."""
    if len(code) != 18:
        return f"a unified social credit code has 18 characters, not {len(code)}"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"characters {''.join(bad)!r} are not allowed (GB 32100-2015 uses 0-9 and A-Y without I, O, S, V, Z)"
    if not code[2:8].isdigit():
        return "characters 3 to 8 must be the six-digit administrative division code"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r} but should be {expected!r}"
    return None


def complete(first17: str) -> str:
    """The full code for the first seventeen characters (used to make demo organisations)."""
    return first17 + check_character(first17)
