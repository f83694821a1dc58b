"""Known deprecation warnings of third-party libraries, kept away from the people who run ``esign``.

A warning a library raises about another library (pyHanko importing DSA from cryptography 51, say) tells
the user nothing they can act on, and it lands on stderr, where the CLI promises one clear line per error.
Each filter names the warning's category and the library module it is attributed to, so our own warnings
and any new one still show.

The warnings fire while the libraries are imported, so the filters must be in place before: importing
this module installs them, and :mod:`api.cli` and :mod:`api.__main__` import it before anything else.
The server started by ``esign serve`` runs in the same process, so it is covered too.
"""

from __future__ import annotations

import warnings

from cryptography.utils import CryptographyDeprecationWarning

KNOWN: tuple[tuple[type[Warning], str], ...] = (
    # pyhanko imports cryptography's DSA classes, which cryptography 51 deprecates at import.
    (CryptographyDeprecationWarning, r"pyhanko(_certvalidator)?\."),
)
"""(category, regular expression for the module the warning is attributed to)."""


def install() -> None:
    """Add the filters (idempotent: ``warnings.filterwarnings`` replaces an identical filter)."""
    for category, module in KNOWN:
        warnings.filterwarnings("ignore", category=category, module=module)


install()
