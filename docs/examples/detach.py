"""Write out the files embedded in a PDF (the replies a combined answer carries) and print each one's name, its
Unicode name and its description.

    python detach.py answer.pdf
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader


def main(path: str) -> None:
    with open(path, "rb") as f:
        names = PdfFileReader(f).root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names), 2):
            spec = names[i + 1]
            out = Path(str(spec["/F"])).name
            Path(out).write_bytes(spec["/EF"]["/F"].data)
            print(out, spec.get("/UF", ""), spec.get("/Desc", ""), sep="\t")


if __name__ == "__main__":
    main(sys.argv[1])
