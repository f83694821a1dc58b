"""Keys in a PKCS#11 token (SoftHSM2): generated there, certified by our CA, signing PDFs without leaving it."""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pkcs11
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11_errors

from esign.errors import Conflict, InvalidInput
from esign.sign import sign
from esign.signers import to_asn1
from esign.trust import TrustSettings
from esign.verify import verify
from keys import ca
from keys.ca import Authority, KeyKind, PkiUrls, Profile
from keys.errors import PinInvalid, TokenDeviceError
from keys.pkcs11 import TokenKey, TokenPinRejected, generate_key, open_signer
from tests.conftest import make_pdf
from tests.keys.softhsm import SoftHsm, Token
from tests.validators import nss_db, pdfsig

ORGANISATION = "广东省人民政府办公厅"


@pytest.fixture
def token(hsm: SoftHsm) -> Token:
    return hsm.new_token()


@pytest.fixture
def ref(hsm: SoftHsm, token: Token) -> TokenKey:
    return TokenKey(module=hsm.module, token_label=token.label, key_label="张三 签名")


class _Responder(ThreadingHTTPServer):
    """Answers OCSP for the issuing CA with "good", signed by the CA itself (RFC 6960 §4.2.2.2).

    The signing certificates point pdfsig (NSS) at their OCSP responder, and NSS does not trust a
    certificate whose responder cannot be reached.
    """

    issuing: Authority
    answered = 0


class _OcspHandler(BaseHTTPRequestHandler):
    server: _Responder

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        self._answer(base64.b64decode(unquote(self.path.rsplit("/", 1)[-1])))

    def _answer(self, request_der: bytes) -> None:
        request = ocsp.load_der_ocsp_request(request_der)
        now = dt.datetime.now(dt.UTC)
        issuing = self.server.issuing
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=now - dt.timedelta(minutes=1),
                next_update=now + dt.timedelta(hours=1),
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, issuing.cert)
        )
        for extension in request.extensions:
            if isinstance(extension.value, x509.OCSPNonce):
                builder = builder.add_extension(extension.value, critical=False)
        body = builder.sign(issuing.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.answered += 1

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def responder() -> Iterator[_Responder]:
    server = _Responder(("127.0.0.1", 0), _OcspHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def urls(responder: _Responder) -> PkiUrls:
    return PkiUrls(f"http://127.0.0.1:{responder.server_address[1]}")


@pytest.fixture(scope="module")
def root(urls: PkiUrls) -> Authority:
    return ca.new_root("Test Root CA", organisation=ORGANISATION, urls=urls)


@pytest.fixture(scope="module")
def issuing(root: Authority, urls: PkiUrls, responder: _Responder) -> Authority:
    issuing = ca.new_subordinate(
        root, profile=Profile.ISSUING_CA, common_name="Test Issuing CA", organisation=ORGANISATION, urls=urls
    )
    responder.issuing = issuing
    return issuing


@pytest.fixture(scope="module")
def nssdir(root: Authority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nss_db(tmp_path_factory.mktemp("nss"), [ca.pem(root.cert)])


@pytest.fixture(scope="module")
def trust(root: Authority) -> TrustSettings:
    return TrustSettings().with_anchors(ca.pem(root.cert))


Certify = Callable[[ca.PublicKey], asn1_x509.Certificate]


@pytest.fixture
def certify(issuing: Authority, urls: PkiUrls) -> Certify:
    def certify(public_key: ca.PublicKey) -> asn1_x509.Certificate:
        subject = ca.person_name("张三", organisation=ORGANISATION, department="办公室")
        cert = ca.issue(issuing, profile=Profile.SIGNATURE, subject=subject, public_key=public_key, urls=urls)
        return to_asn1(cert)

    return certify


@pytest.fixture
def chain(issuing: Authority) -> list[asn1_x509.Certificate]:
    return [to_asn1(issuing.cert)]


def _accepted_by_pdfsig(signed: bytes, nssdir: Path, tmp_path: Path, *, signatures: int = 1) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    results = pdfsig(path, nssdir)
    assert len(results) == signatures
    for result in results:
        assert result.signature_valid and result.certificate_trusted, result
        assert result.signer == "张三"


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_a_token_key_signs_a_pdf_that_pdfsig_and_our_verifier_accept(
    kind: KeyKind,
    ref: TokenKey,
    token: Token,
    certify: Certify,
    chain: list[asn1_x509.Certificate],
    nssdir: Path,
    trust: TrustSettings,
    responder: _Responder,
    tmp_path: Path,
) -> None:
    public_key = generate_key(ref, user_pin=token.user_pin, kind=kind)
    if kind == "ec":
        assert isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1"
    else:
        assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 3072
    cert = certify(public_key)
    document = make_pdf()

    with open_signer(ref, user_pin=token.user_pin, cert=cert, chain=chain) as signer:
        signed = sign(document, signer)

    assert signed.startswith(document)
    answered = responder.answered
    _accepted_by_pdfsig(signed, nssdir, tmp_path)
    assert responder.answered > answered, "pdfsig checked the certificate's status online"
    report = verify(signed, trust)
    assert report.valid, report.summary
    [signature] = report.signatures
    assert signature.signature_valid and signature.trusted


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_the_private_key_cannot_be_read_or_wrapped_out_of_the_token(
    kind: KeyKind, hsm: SoftHsm, ref: TokenKey, token: Token
) -> None:
    generate_key(ref, user_pin=token.user_pin, kind=kind)

    lib = pkcs11.lib(str(hsm.module))
    with lib.get_token(token_label=token.label).open(rw=True, user_pin=token.user_pin) as session:
        key = session.get_key(ObjectClass.PRIVATE_KEY, label=ref.key_label, id=ref.key_id)
        assert key[Attribute.EXTRACTABLE] is False and key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.SENSITIVE] is True and key[Attribute.ALWAYS_SENSITIVE] is True
        assert key[Attribute.LOCAL] is True, "generated inside the token, never imported"
        assert key[Attribute.TOKEN] is True and key[Attribute.PRIVATE] is True
        assert key[Attribute.SIGN] is True and key[Attribute.DECRYPT] is False

        secret = Attribute.VALUE if kind == "ec" else Attribute.PRIVATE_EXPONENT
        with pytest.raises(p11_errors.AttributeSensitive):
            key[secret]
        wrapping_key = session.generate_key(KeyType.AES, 256, store=False)
        assert isinstance(wrapping_key, pkcs11.WrapMixin)
        with pytest.raises(p11_errors.KeyUnextractable):
            wrapping_key.wrap_key(key)


def test_a_wrong_pin_is_told_apart_and_the_right_one_still_works(
    ref: TokenKey, token: Token, certify: Certify, chain: list[asn1_x509.Certificate]
) -> None:
    cert = certify(generate_key(ref, user_pin=token.user_pin))

    for wrong in ("000000", ""):
        with pytest.raises(TokenPinRejected) as caught, open_signer(ref, user_pin=wrong, cert=cert, chain=chain):
            pytest.fail("a session opened with a wrong PIN")
        assert isinstance(caught.value, PinInvalid) and caught.value.code == "pin_invalid"
        assert caught.value.tries_left == -1
        assert token.label in caught.value.message and wrong not in caught.value.message.split()
    with pytest.raises(TokenPinRejected):
        generate_key(TokenKey(ref.module, ref.token_label, "another key"), user_pin="000000")

    with open_signer(ref, user_pin=token.user_pin, cert=cert, chain=chain) as signer:
        assert sign(make_pdf(), signer)


def test_a_missing_token_or_module_is_a_device_error(hsm: SoftHsm, token: Token, tmp_path: Path) -> None:
    absent = TokenKey(module=hsm.module, token_label="no-such-token", key_label="k")
    with pytest.raises(TokenDeviceError) as caught:
        generate_key(absent, user_pin=token.user_pin)
    assert "no-such-token" in caught.value.message and str(hsm.module) in caught.value.message

    no_module = TokenKey(module=tmp_path / "libmissing.so", token_label=token.label, key_label="k")
    with pytest.raises(TokenDeviceError) as caught:
        generate_key(no_module, user_pin=token.user_pin)
    assert str(tmp_path / "libmissing.so") in caught.value.message


def test_a_token_without_the_key_is_a_device_error(
    hsm: SoftHsm, ref: TokenKey, token: Token, certify: Certify, chain: list[asn1_x509.Certificate]
) -> None:
    cert = certify(generate_key(ref, user_pin=token.user_pin))
    elsewhere = TokenKey(module=hsm.module, token_label=token.label, key_label="李四 签名")
    with (
        pytest.raises(TokenDeviceError, match="李四 签名"),
        open_signer(elsewhere, user_pin=token.user_pin, cert=cert, chain=chain),
    ):
        pytest.fail("a signer over a key that does not exist")


def test_one_open_signer_makes_several_signatures_and_closes_its_session(
    ref: TokenKey,
    token: Token,
    certify: Certify,
    chain: list[asn1_x509.Certificate],
    nssdir: Path,
    trust: TrustSettings,
    tmp_path: Path,
) -> None:
    cert = certify(generate_key(ref, user_pin=token.user_pin))
    first, second = make_pdf(text="第一份"), make_pdf(text="第二份")

    with open_signer(ref, user_pin=token.user_pin, cert=cert, chain=chain) as signer:
        signed_first = sign(first, signer)
        signed_second = sign(second, signer)
        countersigned = sign(signed_first, signer)

    for signed, count in ((signed_first, 1), (signed_second, 1), (countersigned, 2)):
        _accepted_by_pdfsig(signed, nssdir, tmp_path, signatures=count)
        assert verify(signed, trust).valid
    with pytest.raises(p11_errors.PKCS11Error):
        sign(second, signer)


def test_concurrent_signers_on_one_token_take_turns(
    ref: TokenKey, token: Token, certify: Certify, chain: list[asn1_x509.Certificate], trust: TrustSettings
) -> None:
    """PKCS#11 logs in per process and token: without taking turns the second login would be refused."""
    cert = certify(generate_key(ref, user_pin=token.user_pin))
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    inside = threading.Barrier(2, timeout=10)

    def work(n: int) -> None:
        try:
            inside.wait()
            with open_signer(ref, user_pin=token.user_pin, cert=cert, chain=chain) as signer:
                results[n] = sign(make_pdf(text=f"文件 {n}"), signer)
        except (TokenDeviceError, PinInvalid, Conflict, threading.BrokenBarrierError) as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors and sorted(results) == [0, 1]
    assert all(verify(signed, trust).valid for signed in results.values())


def test_generating_twice_under_one_label_is_refused(ref: TokenKey, token: Token) -> None:
    generate_key(ref, user_pin=token.user_pin)
    with pytest.raises(Conflict, match="already holds"):
        generate_key(ref, user_pin=token.user_pin, kind="rsa")


def test_a_certificate_for_another_key_is_refused(
    ref: TokenKey, token: Token, certify: Certify, chain: list[asn1_x509.Certificate]
) -> None:
    generate_key(ref, user_pin=token.user_pin)
    stranger = certify(ec.generate_private_key(ec.SECP256R1()).public_key())
    with (
        pytest.raises(InvalidInput, match="does not certify"),
        open_signer(ref, user_pin=token.user_pin, cert=stranger, chain=chain),
    ):
        pytest.fail("a signer whose certificate is not its key's")


def test_a_token_key_round_trips_through_an_rfc_7512_uri() -> None:
    ref = TokenKey(module=Path("/usr/lib/softhsm/libsofthsm2.so"), token_label="粤府办;印章", key_label="张三/签名 1")
    uri = ref.to_uri()

    assert uri.startswith("pkcs11:token=%E7%B2%A4%E5%BA%9C%E5%8A%9E%3B%E5%8D%B0%E7%AB%A0;object=")
    assert ";type=private;id=%" in uri and uri.endswith("?module-path=/usr/lib/softhsm/libsofthsm2.so")
    assert TokenKey.from_uri(uri) == ref
    bare = "pkcs11:token=t1;object=k"
    assert TokenKey.from_uri(bare, default_module=Path("/m.so")) == TokenKey(Path("/m.so"), "t1", "k")


@pytest.mark.parametrize(
    "uri",
    [
        "file:///tmp/key.pem",
        "pkcs11:token=t1;object=k",
        "pkcs11:token=t1?module-path=/m.so",
        "pkcs11:token=t1;object=k;type=public?module-path=/m.so",
        "pkcs11:token=t1;object=k;slot-id=3?module-path=/m.so",
        "pkcs11:token=t1;object=k?module-path=/m.so&pin-value=1234",
        "pkcs11:token=t1;token=t2;object=k?module-path=/m.so",
        "pkcs11:token=t1;object=k;id=%01%02?module-path=/m.so",
        "pkcs11:token=a-label-longer-than-thirty-two-bytes;object=k?module-path=/m.so",
    ],
)
def test_a_uri_that_does_not_name_exactly_one_token_key_is_refused(uri: str) -> None:
    with pytest.raises(InvalidInput):
        TokenKey.from_uri(uri)
