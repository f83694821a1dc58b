"""The README's CSC client, ``docs/examples/csc_sign.py``, run as written against ``esign serve``: pyhanko's
``CSCSigner`` makes a PAdES signature (ETSI EN 319 142-1 §5: SubFilter ETSI.CAdES.detached, no signing-time
attribute, §6.3) whose CMS carries each certificate once."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from pyhanko.pdf_utils.reader import PdfFileReader

from esign.db import Database
from esign.trust import TrustSettings
from esign.verify import verify
from tests.api.served import served
from tests.conftest import make_pdf
from tests.validators import nss_db, pdfsig

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "csc_sign.py"
OFFICIAL = "李强"


def test_the_readme_csc_client_makes_a_pades_signature_with_each_certificate_once(
    tmp_path: Path, new_database: Callable[[], Database]
) -> None:
    source, target = tmp_path / "in.pdf", tmp_path / "csc-signed.pdf"
    source.write_bytes(make_pdf())
    with served(tmp_path, new_database, init=True) as instance:
        run = subprocess.run(
            [sys.executable, str(EXAMPLE), instance.url, instance.tokens[OFFICIAL], "123456", str(source), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        chain = httpx.get(f"{instance.url}/pki/ca").content
    root = b"-----BEGIN" + chain.split(b"-----BEGIN")[2]

    signed = target.read_bytes()
    [signature] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    signed_attrs = {attr["type"].native for attr in signature.signer_info["signed_attrs"]}
    assert "signing_time" not in signed_attrs and "signing_certificate_v2" in signed_attrs, signed_attrs
    copies = Counter(choice.chosen.dump() for choice in signature.signed_data["certificates"])
    assert set(copies.values()) == {1}, [n for n in copies.values()]
    assert copies[signature.signer_cert.dump()] == 1
    assert signature.signer_cert.subject.native["common_name"] == OFFICIAL

    report = verify(signed, TrustSettings().with_anchors(root))
    assert report.valid and report.signatures[0].pades_level == "B-B", report.summary
    [checked] = pdfsig(target, nss_db(tmp_path / "nss", [root]), ocsp=False)
    assert checked.signature_valid and checked.certificate_trusted and checked.whole_document, checked
