from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

import esign

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", response_model=Health, summary="Liveness check")
def health(request: Request) -> Health:
    return Health(status="ok", version=esign.__version__)
