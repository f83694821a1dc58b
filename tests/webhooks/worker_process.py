"""A webhook worker in a process of its own, for the tests that kill it or signal it.

``python -m tests.webhooks.worker_process DATABASE_URL [--schema S] [--lease SECONDS] [--timeout SECONDS]``
"""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta

import webhooks
from esign import worker
from esign.cipher import SecretCipher
from esign.db import Database
from tests.webhooks.conftest import FAST, SERVER_SECRET
from webhooks import DeliveryOptions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--schema")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    database = Database(args.url, schema=args.schema)
    options = DeliveryOptions(
        cipher=SecretCipher.derive(SERVER_SECRET),
        retry=FAST,
        timeout=timedelta(seconds=args.timeout),
        lease=timedelta(seconds=args.lease),
        allow_private=True,
    )
    try:
        worker.run_until_signalled(
            database, [webhooks.delivery_job(options)], options=worker.WorkerOptions(idle_seconds=0.05)
        )
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
