"""The README's walk-through, run as written against `esign init` + `esign serve`, so it cannot rot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from esign.db import Database
from tests.api.served import free_port, served
from tests.esign.etsi_xml import valid_xml

ROOT = Path(__file__).resolve().parents[2]


def shell_blocks(start: str, end: str) -> str:
    """Every shell block of the README from the heading ``start`` up to the heading ``end``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(start) : readme.index(end)]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))


def walkthrough() -> str:
    """Every shell block from "## A walk-through" up to its "### Demo data"."""
    return shell_blocks("## A walk-through", "### Demo data")


def test_the_walkthrough_runs_top_to_bottom(tmp_path: Path, new_database: Callable[[], Database]) -> None:
    with served(
        tmp_path / "service", new_database, init=True, extra_env={"ESIGN_WEBHOOKS_ALLOW_PRIVATE": "true"}
    ) as instance:
        work = tmp_path / "work"
        shutil.copytree(ROOT / "docs" / "examples", work / "docs" / "examples")
        (work / "var").symlink_to(instance.data_dir)
        (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
        script = walkthrough().replace("API=http://127.0.0.1:8000", f"API={instance.url}")
        script = script.replace("8765", str(free_port()))
        (work / "walkthrough.sh").write_text("set -euo pipefail\n" + script, encoding="utf-8")
        before = sorted(p.name for p in work.iterdir())
        result = subprocess.run(
            ["bash", "walkthrough.sh"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **instance.env},
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in work.iterdir()) == before, "the walk-through writes only into its scratch folder"
    scratch = work / "var" / "walkthrough"
    out = result.stdout
    assert "有效：全部 1 个签名有效" in out, "one signer at B-LTA: its document time-stamp is no signature"
    assert "有效：全部 3 个签名有效" in out, out[-2000:]
    valid_xml((scratch / "report.xml").read_bytes())
    assert '"code":"pin_invalid"' in out and "dispatch.receipt" in out
    log = (scratch / "webhook.log").read_text()
    for event in ("document.signed", "document.sealed", "document.dispatched", "receipt.received"):
        assert event in log, log
    lines = out.strip().splitlines()
    assert "delivered" in lines and "dead" not in lines, lines
    assert "True" in lines, "the system's retry returned the same document"
    assert "archived\n" in out and "revision.uploaded" in lines, "the system saw its document through"
    for produced in (
        "signed.pdf",
        "draft.pdf",
        "sealed.pdf",
        "report.pdf",
        "report.xml",
        "self-signed.pdf",
        "csc-signed.pdf",
        "final.pdf",
    ):
        assert (scratch / produced).stat().st_size > 1000, produced


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def test_the_example_signature_boxes_leave_the_sample_text_readable() -> None:
    """Every visible box the README draws on the sample notice clears its text, the issuer and date included."""
    sample = ROOT / "docs" / "examples" / "unsigned.pdf"
    page_height = 841.89
    words = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(sample), "-"], capture_output=True, text=True
    )
    text = [
        (float(a), page_height - float(d), float(c), page_height - float(b), w)
        for a, b, c, d, w in _WORD.findall(words.stdout)
    ]
    assert any(w == "示例单位办公室" for *_, w in text) and any(w.startswith("2026年") for *_, w in text), text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    boxes = re.findall(r"visible[= ]1:(\d+),(\d+),(\d+),(\d+)", readme)
    assert len(boxes) >= 2, "the walk-through signs visibly over HTTP and on the command line"
    for box in boxes:
        x1, y1, x2, y2 = (float(v) for v in box)
        for left, bottom, right, top, word in text:
            assert right <= x1 or x2 <= left or top <= y1 or y2 <= bottom, f"box {box} covers {word}"
