"""The pages' message catalogs: every string of web/ extracted, translated into Chinese, compiled as committed."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from web import i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "web" / "locale"
METHODS = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _extracted() -> set[str]:
    found = extract_from_dir(ROOT, METHODS, keywords=KEYWORDS, options_map=OPTIONS)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def _catalog(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        return read_po(f)


def test_the_template_matches_the_sources() -> None:
    """Run `make messages` when this fails: a string was added or changed and the catalogs do not know it."""
    pot = {m.id for m in _catalog(LOCALE / "messages.pot") if m.id}
    assert _extracted() == pot


def test_every_language_translates_every_string() -> None:
    pot = {m.id for m in _catalog(LOCALE / "messages.pot") if m.id}
    for lang in set(i18n.LANGUAGES) - {"en"}:
        catalog = _catalog(LOCALE / lang / "LC_MESSAGES" / "messages.po")
        messages = {m.id: m for m in catalog if m.id}
        assert set(messages) == pot, f"{lang}: run `make messages`"
        untranslated = [m.id for m in messages.values() if not m.string or m.fuzzy]
        assert not untranslated, f"{lang} lacks translations for {untranslated}"
        for m in messages.values():
            assert set(re.findall(r"%\(\w+\)s", m.id)) == set(re.findall(r"%\(\w+\)s", m.string)), m.id


def test_the_compiled_catalogs_are_current() -> None:
    """The .mo files are committed, so that serving needs no build step; they must say what the .po files say."""
    for lang in set(i18n.LANGUAGES) - {"en"}:
        directory = LOCALE / lang / "LC_MESSAGES"
        compiled = io.BytesIO()
        write_mo(compiled, _catalog(directory / "messages.po"))
        compiled.seek(0)
        expected = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
        with (directory / "messages.mo").open("rb") as f:
            committed = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        assert {k: v for k, v in committed.items() if k} == {k: v for k, v in expected.items() if k}, (
            f"{lang}: run `make messages`"
        )
