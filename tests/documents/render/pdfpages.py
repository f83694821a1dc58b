"""Reading a rendered PDF back the way a checker would: characters, lines and rules from pdfplumber, text and fonts
from poppler's command-line tools."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pdfplumber

from documents.render.geometry import PAGE_HEIGHT

Char = dict[str, Any]


@dataclass(frozen=True)
class Line:
    """Characters sharing an em box bottom, left to right. y values are PDF points from the page's bottom."""

    chars: tuple[Char, ...]

    @property
    def text(self) -> str:
        return "".join(c["text"] for c in self.chars)

    @property
    def top(self) -> float:
        return PAGE_HEIGHT - min(c["top"] for c in self.chars)

    @property
    def bottom(self) -> float:
        return PAGE_HEIGHT - max(c["bottom"] for c in self.chars)

    @property
    def x0(self) -> float:
        return min(c["x0"] for c in self.chars)

    @property
    def x1(self) -> float:
        return max(c["x1"] for c in self.chars)

    @property
    def size(self) -> float:
        return max(c["size"] for c in self.chars)


def chars(pdf: bytes) -> list[list[Char]]:
    """Every page's characters."""
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [list(page.chars) for page in document.pages]


def rects(pdf: bytes) -> list[list[dict[str, Any]]]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [list(page.rects) for page in document.pages]


def lines(page_chars: list[Char]) -> list[Line]:
    """The page's text lines, top to bottom."""
    rows: dict[float, list[Char]] = {}
    for char in page_chars:
        key = round(char["bottom"] * 2) / 2
        rows.setdefault(key, []).append(char)
    return [Line(tuple(sorted(rows[key], key=lambda c: c["x0"]))) for key in sorted(rows)]


def find(page_lines: list[Line], text: str) -> Line:
    matches = [line for line in page_lines if text in line.text]
    assert matches, f"no line holds {text!r}: {[line.text for line in page_lines]}"
    return matches[0]


def is_red(colour: object) -> bool:
    return (
        isinstance(colour, tuple | list)
        and len(colour) == 3
        and colour[0] > 0.8
        and colour[1] < 0.2
        and colour[2] < 0.2
    )


def write(tmp: Path, name: str, pdf: bytes) -> Path:
    path = tmp / name
    path.write_bytes(pdf)
    return path


def pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pdffonts(path: Path) -> list[dict[str, str]]:
    """pdffonts' table: name, type, encoding, emb, sub, uni per font."""
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()
    rows = []
    for line in out[2:]:
        parts = line.split()
        rows.append(
            {"name": parts[0], "type": " ".join(parts[1:-6]), "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]}
        )
    return rows
