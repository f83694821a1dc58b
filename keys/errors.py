"""Errors of identities, credentials, the CA and key custody; ``api/`` maps them to HTTP statuses.

The generic ones (not found, conflict, invalid input, unauthenticated, forbidden) are the kernel's:
:mod:`esign.errors`."""

from __future__ import annotations

from esign.errors import EsignError


class KeysError(EsignError):
    code = "keys_error"


class PinInvalid(KeysError):
    code = "pin_invalid"
    keeps_changes = True

    def __init__(self, message: str, *, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left

    @property
    def details(self) -> dict[str, object]:
        return {"tries_left": self.tries_left}


class CredentialLocked(KeysError):
    code = "credential_locked"
    keeps_changes = True


class CredentialUnusable(KeysError):
    """Revoked, expired or disabled: it can never sign again."""

    code = "credential_unusable"


class PkiNotInitialised(KeysError):
    code = "pki_not_initialised"


class TokenDeviceError(KeysError):
    """A PKCS#11 module or token that cannot be used."""

    code = "token_device_error"


class SigningUnavailable(KeysError):
    """The process that signs with software keys stopped or did not answer: nothing was signed; try again."""

    code = "signing_unavailable"


class SignInFailed(KeysError):
    """A wrong login name or password: the message never says which. The failure is counted and audited."""

    code = "sign_in_failed"
    keeps_changes = True


class AccountLocked(KeysError):
    """Too many wrong passwords in a row: sign-in is refused, even with the right one, until ``until``."""

    code = "account_locked"
    keeps_changes = True

    def __init__(self, message: str, *, until: str) -> None:
        super().__init__(message)
        self.until = until

    @property
    def details(self) -> dict[str, object]:
        return {"locked_until": self.until}


class InvitationInvalid(KeysError):
    """An invitation link that is unknown, used or expired."""

    code = "invitation_invalid"


class PasswordRefused(KeysError):
    """A new password this service does not take: ``reason`` is ``mismatch``, ``short`` or ``long``."""

    code = "password_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def details(self) -> dict[str, object]:
        return {"reason": self.reason}
