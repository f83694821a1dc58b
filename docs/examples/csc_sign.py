"""Sign a PDF with a key held by esign, through the Cloud Signature Consortium API, using pyhanko's CSCSigner.

    python3 docs/examples/csc_sign.py API_URL TOKEN PIN IN.pdf OUT.pdf

The client lists the caller's credentials, fetches the certificate chain, authorises one signature with
the PIN (credentials/authorize gives a SAD) and lets CSCSigner send the document's hash to
signatures/signHash. The private key never leaves the service. The signature is PAdES (SubFilter
ETSI.CAdES.detached, no signing-time attribute), and its CMS carries each certificate once.
"""

import asyncio
import sys
from io import BytesIO

import aiohttp
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationManager,
    CSCServiceSessionInfo,
    CSCSigner,
    PrefetchedSADAuthorizationManager,
    fetch_certs_in_csc_credential,
)
from pyhanko_certvalidator.registry import CertificateStore, SimpleCertificateStore


class ChainCSCSigner(CSCSigner):
    """CSCSigner embeds its certificate registry and then the signer's certificate, but the registry it makes
    holds the signer's certificate already: the CMS would carry it twice."""

    @property
    def cert_registry(self) -> CertificateStore:
        return SimpleCertificateStore.from_certs(self.auth_manager.credential_info.chain)


async def main(api: str, token: str, pin: str, source: str, target: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/csc/v1/credentials/list", json={}, headers=headers, raise_for_status=True) as r:
            credential_id = (await r.json())["credentialIDs"][0]
        session = CSCServiceSessionInfo(service_url=api, credential_id=credential_id, oauth_token=token)
        credential = await fetch_certs_in_csc_credential(http, session)
        request = {"credentialID": credential_id, "numSignatures": 1, "PIN": pin}
        async with http.post(
            session.endpoint_url("credentials/authorize"), json=request, headers=headers, raise_for_status=True
        ) as r:
            sad = CSCAuthorizationManager.parse_csc_auth_response(await r.json())
        signer = ChainCSCSigner(http, PrefetchedSADAuthorizationManager(session, credential, sad))
        with open(source, "rb") as f:
            pdf = IncrementalPdfFileWriter(BytesIO(f.read()))
        meta = PdfSignatureMetadata(field_name="CSC", md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES)
        signed = await PdfSigner(meta, signer).async_sign_pdf(pdf)
    with open(target, "wb") as f:
        f.write(signed.getvalue())
    print(f"signed {source} → {target} with credential {credential_id}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
