"""A throwaway SoftHSM2 for tests: its own configuration and token folder, one per test process.

SoftHSM2 reads ``SOFTHSM2_CONF`` once, when the module is first initialised in a process, and lists its
tokens only then. So each process (each pytest-xdist worker) gets one configuration, set before anything
loads the module, and ``new_token`` re-initialises the module after adding a token so the process sees it.
Tests use distinct token labels and never keep a session open across tests, so the re-initialisation
closes nothing that is still in use.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pkcs11

from tests.support import require

MODULE = Path(os.environ.get("ESIGN_TEST_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))
"""SoftHSM2's module where Debian's softhsm2 package puts it."""


@dataclass(frozen=True)
class Token:
    label: str
    user_pin: str
    so_pin: str


@dataclass(frozen=True)
class SoftHsm:
    module: Path
    conf: Path
    token_dir: Path

    def new_token(self, prefix: str = "t") -> Token:
        """An initialised token with a label no other token of this process has, and fresh PINs."""
        token = Token(
            label=f"{prefix}-{secrets.token_hex(4)}",
            user_pin=secrets.token_hex(4),
            so_pin=secrets.token_hex(8),
        )
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                token.label,
                "--pin",
                token.user_pin,
                "--so-pin",
                token.so_pin,
            ],
            env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
            check=True,
            capture_output=True,
        )
        pkcs11.lib(str(self.module)).reinitialize()
        return token


_environment: SoftHsm | None = None


def environment(base: Path) -> SoftHsm:
    """This process's SoftHSM2, configured under ``base`` on the first call; later calls return it as is."""
    global _environment
    if _environment is not None:
        return _environment
    require(shutil.which("softhsm2-util") is not None, "softhsm2-util (Debian softhsm2) is not installed")
    require(MODULE.exists(), f"the SoftHSM2 PKCS#11 module {MODULE} is missing (Debian softhsm2)")
    token_dir = base / "tokens"
    token_dir.mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    _environment = SoftHsm(module=MODULE, conf=conf, token_dir=token_dir)
    return _environment
