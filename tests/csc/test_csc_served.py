"""A CSC client nobody here wrote, pyhanko's ``CSCSigner``, signing PDFs through ``esign serve``.

The service runs as a user runs it (``esign init`` then ``esign serve`` on a loopback port); the client
authenticates with a demo official's bearer token, reads the credential with
``fetch_certs_in_csc_credential``, gets a SAD from ``credentials/authorize`` and lets ``CSCSigner`` call
``signatures/signHash``. poppler's pdfsig (asking the served OCSP responder online) and ``esign.verify``
must both accept the result. Keys held in the database and in a SoftHSM2 token both sign.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Literal

import aiohttp
import httpx
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.csc_signer import (
    CSCAuthorizationInfo,
    CSCAuthorizationManager,
    CSCCredentialInfo,
    CSCServiceSessionInfo,
    CSCSigner,
    PrefetchedSADAuthorizationManager,
    fetch_certs_in_csc_credential,
)

from esign.db import Database
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify
from keys import authorities, credentials, tokens
from keys.credentials import Purpose, Storage
from tests.api.served import Served, served
from tests.conftest import make_pdf
from tests.csc.helpers import authorize, call, certificate, digests, pss_params, sign_hash, verifies
from tests.keys.softhsm import MODULE, SoftHsm
from tests.validators import nss_db, pdfsig

OFFICIAL = "李强"
LEADER = "刘洋"
DEMO_PIN = "123456"
SHA256_RSA, RSA_PSS = "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.10"


class HashBoundAuthorization(CSCAuthorizationManager):
    """The manager pyhanko asks its users to write for services that bind a SAD to the hashes (SCAL 2):
    one ``credentials/authorize`` per batch, naming the batch's hashes."""

    def __init__(
        self,
        session_info: CSCServiceSessionInfo,
        credential: CSCCredentialInfo,
        *,
        http: aiohttp.ClientSession,
        pin: str,
    ) -> None:
        super().__init__(session_info, credential)
        self.http = http
        self.pin = pin

    async def authorize_signature(self, hash_b64s: list[str]) -> CSCAuthorizationInfo:
        request = self.format_csc_auth_request(pin=self.pin, hash_b64s=hash_b64s)
        url = self.csc_session_info.endpoint_url("credentials/authorize")
        async with self.http.post(url, json=request, headers=self.auth_headers, raise_for_status=True) as response:
            return self.parse_csc_auth_response(await response.json())


async def _sign_over_csc(
    instance: Served, official: str, credential_id: str, pin: str, pdf: bytes, *, hash_bound: bool
) -> bytes:
    async with aiohttp.ClientSession() as http:
        session_info = CSCServiceSessionInfo(
            service_url=instance.url, credential_id=credential_id, oauth_token=instance.tokens[official]
        )
        credential = await fetch_certs_in_csc_credential(http, session_info)
        assert len(credential.chain) == 2 and credential.max_batch_size >= 1 and not credential.hash_pinning_required
        manager: CSCAuthorizationManager
        if hash_bound:
            manager = HashBoundAuthorization(session_info, credential, http=http, pin=pin)
        else:
            request = {"credentialID": credential_id, "numSignatures": 1, "PIN": pin}
            url = session_info.endpoint_url("credentials/authorize")
            async with http.post(
                url, json=request, headers=session_info.auth_headers, raise_for_status=True
            ) as response:
                sad = CSCAuthorizationManager.parse_csc_auth_response(await response.json())
            manager = PrefetchedSADAuthorizationManager(session_info, credential, sad)
        signer = CSCSigner(http, manager)
        pdf_signer = PdfSigner(PdfSignatureMetadata(field_name="Signature1", md_algorithm="sha256"), signer=signer)
        out = await pdf_signer.async_sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
        return out.getvalue()


def _root_pem(instance: Served) -> bytes:
    chain = httpx.get(f"{instance.url}/pki/ca").content
    _issuing, root = (b"-----BEGIN" + part for part in chain.split(b"-----BEGIN")[1:])
    return root


def _check(signed: bytes, instance: Served, tmp_path: Path, signer_name: str) -> None:
    root = _root_pem(instance)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    [result] = pdfsig(path, nss_db(tmp_path / "nss", [root]))
    assert result.signature_valid and result.certificate_trusted and result.whole_document, result
    assert result.signer == signer_name
    report = verify(signed, TrustSettings().with_anchors(root))
    assert report.valid and len(report.signatures) == 1, report


def _credential(instance: Served, official: str) -> str:
    listed = httpx.post(f"{instance.url}/csc/v1/credentials/list", json={}, headers=instance.headers(official))
    assert listed.status_code == 200, listed.text
    [credential_id] = listed.json()["credentialIDs"]
    return str(credential_id)


def test_pyhanko_csc_signer_signs_a_pdf_with_a_key_held_here(
    tmp_path: Path, new_database: Callable[[], Database]
) -> None:
    with served(tmp_path, new_database, init=True) as instance:
        credential_id = _credential(instance, OFFICIAL)
        signed = asyncio.run(_sign_over_csc(instance, OFFICIAL, credential_id, DEMO_PIN, make_pdf(), hash_bound=False))
        _check(signed, instance, tmp_path, OFFICIAL)
        again = asyncio.run(_sign_over_csc(instance, OFFICIAL, credential_id, DEMO_PIN, make_pdf(), hash_bound=True))
        _check(again, instance, tmp_path / "bound", OFFICIAL)


def _enrol_in_token(
    instance: Served, official: str, token_label: str, pin: str, *, kind: Literal["ec", "rsa"] = "ec"
) -> str:
    """Enrol a key generated in the SoftHSM2 token through the service layer, into the served database."""
    settings = Settings(
        data_dir=instance.data_dir,
        public_url=instance.url,
        pkcs11_module=MODULE,
        key_kind=kind,
        database_url=instance.env.get("ESIGN_DATABASE_URL"),
        database_schema=instance.env.get("ESIGN_DATABASE_SCHEMA"),
    )
    database = Database.from_settings(settings)
    try:
        with database.transaction() as session:
            actor = tokens.authenticate(session, instance.tokens[official])
            return credentials.enrol(
                session,
                actor=actor,
                pki=authorities.load(session, settings),
                settings=settings,
                purpose=Purpose.SIGNATURE,
                pin=pin,
                storage=Storage.PKCS11,
                token_label=token_label,
            ).id
    finally:
        database.dispose()


def _hsm_env(hsm: SoftHsm) -> dict[str, str]:
    return {"ESIGN_PKCS11_MODULE": str(MODULE), "SOFTHSM2_CONF": str(hsm.conf)}


def test_pyhanko_csc_signer_signs_with_a_softhsm_key(
    tmp_path: Path, new_database: Callable[[], Database], hsm: SoftHsm
) -> None:
    token = hsm.new_token("csc")
    with served(tmp_path, new_database, init=True, extra_env=_hsm_env(hsm)) as instance:
        credential_id = _enrol_in_token(instance, LEADER, token.label, token.user_pin)
        info = call(
            httpx, "v1", "credentials/info", instance.tokens[LEADER], {"credentialID": credential_id}, base=instance.url
        )
        assert info.json()["key"]["status"] == "enabled"

        wrong = call(
            httpx,
            "v1",
            "credentials/authorize",
            instance.tokens[LEADER],
            {"credentialID": credential_id, "numSignatures": 1, "PIN": "not-the-pin"},
            base=instance.url,
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_pin" and wrong.json()["tries_left"] == 4

        signed = asyncio.run(
            _sign_over_csc(instance, LEADER, credential_id, token.user_pin, make_pdf(), hash_bound=True)
        )
        _check(signed, instance, tmp_path, LEADER)

        cert = certificate(httpx, instance.tokens[LEADER], credential_id, base=instance.url)
        values = digests(20)
        sad = authorize(
            httpx, instance.tokens[LEADER], credential_id, token.user_pin, n=20, version="v2", base=instance.url
        )
        response = sign_hash(
            httpx, instance.tokens[LEADER], credential_id, sad, values, version="v2", base=instance.url
        )
        assert response.status_code == 200, response.json()
        signatures = [base64.b64decode(s) for s in response.json()["signatures"]]
        assert all(verifies(cert, s, v) for s, v in zip(signatures, values, strict=True))


def test_an_rsa_key_in_a_token_signs_pkcs1_and_pss(
    tmp_path: Path, new_database: Callable[[], Database], hsm: SoftHsm
) -> None:
    token = hsm.new_token("csc-rsa")
    with served(tmp_path, new_database, init=True, extra_env=_hsm_env(hsm)) as instance:
        bearer = instance.tokens[OFFICIAL]
        credential_id = _enrol_in_token(instance, OFFICIAL, token.label, token.user_pin, kind="rsa")
        cert = certificate(httpx, bearer, credential_id, base=instance.url)
        values = digests(4)
        sad = authorize(httpx, bearer, credential_id, token.user_pin, n=4, hashes_=values, base=instance.url)
        pkcs1 = sign_hash(httpx, bearer, credential_id, sad, values[:2], sign_algo=SHA256_RSA, base=instance.url)
        pss = sign_hash(
            httpx,
            bearer,
            credential_id,
            sad,
            values[2:],
            sign_algo=RSA_PSS,
            params=pss_params("sha256", 32),
            base=instance.url,
        )
        assert pkcs1.status_code == 200 and pss.status_code == 200, (pkcs1.json(), pss.json())
        for sig, value in zip(pkcs1.json()["signatures"], values[:2], strict=True):
            assert verifies(cert, base64.b64decode(sig), value)
        for sig, value in zip(pss.json()["signatures"], values[2:], strict=True):
            assert verifies(cert, base64.b64decode(sig), value, pss_salt=32)
        spent = sign_hash(httpx, bearer, credential_id, sad, values[:1], sign_algo=SHA256_RSA, base=instance.url)
        assert spent.status_code == 400 and spent.json()["error_description"] == "Invalid parameter SAD"
