from __future__ import annotations

import pytest

from documents.render import FontSet, Rendered, default_fonts, render

from . import samples


@pytest.fixture(scope="session")
def fonts() -> FontSet:
    return default_fonts()


@pytest.fixture(scope="session")
def notice(fonts: FontSet) -> Rendered:
    return render(samples.notice(), fonts)


@pytest.fixture(scope="session")
def letter(fonts: FontSet) -> Rendered:
    return render(samples.letter(), fonts)


@pytest.fixture(scope="session")
def long_notice(fonts: FontSet) -> Rendered:
    """A notice whose body runs to three pages and more."""
    return render(samples.notice(body=samples.long_body(), attachments=[], colophon=None), fonts)
