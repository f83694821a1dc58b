"""Request dependencies: the settings and what the service trusts, built once per application."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from esign.settings import Settings
from esign.trust import TrustSettings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_trust(request: Request) -> TrustSettings:
    return request.app.state.trust  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
TrustDep = Annotated[TrustSettings, Depends(get_trust)]
