"""Server time of the workspace's pages on PostgreSQL: the inbox of an official with 200 open items and the page
of a document with 20 revisions.

    python bench/workspace.py [--schema NAME | --steps 200000] [--samples 200] [--keep]

The database is a PostgreSQL schema holding a province as ``bench/circulation.py`` seeds it: ``--schema``
names one an earlier ``bench/circulation.py --database postgresql --keep`` run left (the design point is
``--steps 10000000``), otherwise one of ``--steps`` steps is seeded here and dropped after (``--keep`` keeps
it). ``esign init`` adds the demo organisations (PKI, officials, credentials) to it and ``esign serve
--no-worker`` serves it on a loopback port, with a throwaway data directory for blobs: the pages' server as the
production topology runs it, the background jobs (at the design point, sweeps over a million queued alerts) in
``esign worker`` processes of their own, not measured here. Through the API, as the users would:

- 示府办's clerk 王芳 drafts 200 notices (GB/T 9704 PDF/A) and starts on each a route whose first step is a
  review by 李强, so 李强 has 200 open steps (the inbox page's most, ``documents.circulation.inbox.MAX_PAGE``);
- one more notice gets 19 signatures by 李强 (``POST /v1/documents/{id}/sign``, the organisation's level,
  B-LTA), so it has 20 revisions.

李强 then signs in through ``/login`` like a browser (CSRF cookie and token, session cookie), and one keep-alive
httpx client asks for ``/inbox`` and ``/documents/{id}`` ``--samples`` times each, alternating; each page is
fetched once before the clock (the document's previews are asked for then, as the browser would, so they are
cached). The figures are wall time per request over loopback, p50/p95/p99 in ms, against the issue's
targets: inbox p95 < 100 ms, document page p95 < 150 ms. Every answer must be a 200 page showing what it
should (200 rows; the 20th revision).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import circulation  # noqa: E402
from bench.serving import initialised, serving  # noqa: E402
from documents.circulation import calendar  # noqa: E402
from migrations import migrate  # noqa: E402

CLERK, REVIEWER = "王芳", "李强"
DEMO_PIN = "123456"
OPEN_ITEMS = 200
REVISIONS = 20
TARGETS = {"inbox": 100.0, "document": 150.0}
NOTICE = ROOT / "docs" / "examples" / "notice.json"


class Api:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base, timeout=120)
        self.tokens = tokens

    def __call__(self, who: str, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"})
        if not answer.is_success:
            raise RuntimeError(f"{method} {path} as {who}: {answer.status_code} {answer.text}")
        return answer.json()


def _notice(title: str) -> dict[str, Any]:
    import json

    notice: dict[str, Any] = json.loads(NOTICE.read_text(encoding="utf-8"))
    notice["content"]["title"] = title
    return notice


def prepare(api: Api) -> str:
    """李强's 200 open reviews and a 20-revision document; the document's id."""
    reviewer = next(o["id"] for o in api(CLERK, "GET", "/v1/officials") if o["name"] == REVIEWER)
    route = {
        "definition": {
            "stages": [{"name": "核稿", "steps": [{"kind": "review", "assignee": {"official_id": reviewer}}]}]
        }
    }
    for n in range(OPEN_ITEMS):
        document = api(CLERK, "POST", "/v1/documents", _notice(f"关于第{n + 1}批电子公文流转试点单位的通知"))
        api(CLERK, "POST", f"/v1/documents/{document['id']}/route", route)
        if (n + 1) % 50 == 0:
            print(f"  {n + 1} routes started", flush=True)
    document = api(CLERK, "POST", "/v1/documents", _notice("关于电子公文多次签署留痕的通知"))
    credential = next(c["id"] for c in api(REVIEWER, "GET", "/v1/credentials") if c["purpose"] == "signature")
    for _ in range(REVISIONS - 1):
        api(REVIEWER, "POST", f"/v1/documents/{document['id']}/sign", {"credential_id": credential, "pin": DEMO_PIN})
    revisions = api(REVIEWER, "GET", f"/v1/documents/{document['id']}/revisions")
    assert len(revisions) == REVISIONS, len(revisions)
    return str(document["id"])


def signed_in(base: str, login: str, password: str) -> httpx.Client:
    browser = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    form = browser.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None, "no CSRF token on /login"
    answer = browser.post("/login", data={"login": login, "password": password, "csrf_token": token.group(1)})
    assert answer.status_code == 303 and "esign_session" in browser.cookies, answer.text[:500]
    return browser


def _timed(browser: httpx.Client, path: str, check: Callable[[str], bool]) -> float:
    start = time.perf_counter()
    answer = browser.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    assert answer.status_code == 200 and check(answer.text), (path, answer.status_code, answer.text[:500])
    return elapsed


def measure(browser: httpx.Client, document_id: str, samples: int) -> dict[str, list[float]]:
    pages: dict[str, tuple[str, Callable[[str], bool]]] = {
        "inbox": ("/inbox", lambda html: f'data-count="{OPEN_ITEMS}"' in html),
        "document": (f"/documents/{document_id}", lambda html: f'data-seq="{REVISIONS}"' in html),
    }
    page = browser.get(f"/documents/{document_id}").text
    for preview in set(re.findall(rf'src="(/documents/{document_id}/[^"]+)"', page)):
        browser.get(preview.replace("&amp;", "&")).raise_for_status()
    timings: dict[str, list[float]] = {name: [] for name in pages}
    for path, check in pages.values():
        _timed(browser, path, check)
    for _ in range(samples):
        for name, (path, check) in pages.items():
            timings[name].append(_timed(browser, path, check))
    return timings


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schema", help="a schema bench/circulation.py --keep seeded")
    parser.add_argument("--steps", type=int, default=200_000, help="steps to seed when no --schema is given")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the schema seeded here")
    parser.add_argument(
        "--postgresql-url", default=os.environ.get("ESIGN_BENCH_DATABASE_URL", circulation.DEFAULT_POSTGRESQL_URL)
    )
    args = parser.parse_args()

    options = circulation.parse(
        ["--database", "postgresql", "--steps", str(args.steps), "--postgresql-url", args.postgresql_url]
        + (["--schema", args.schema] if args.schema else [])
    )
    database, schema, created = circulation._postgresql(options)
    try:
        if created:
            migrate.upgrade(database)
            print(f"seeding {options.sizes.steps:,} steps into {schema} ...", flush=True)
            circulation.seed(database, options, calendar.today())
        seeded = circulation._counted(database)
        with tempfile.TemporaryDirectory(prefix="esign-bench-workspace-") as tmp:
            postgresql = {"ESIGN_DATABASE_URL": args.postgresql_url, "ESIGN_DATABASE_SCHEMA": schema}
            instance = initialised(Path(tmp) / "var", postgresql)
            tokens = instance.tokens()
            if not tokens:
                raise SystemExit(
                    f"esign init made no demo organisations in {schema}: a schema is measured once (the demo PKI's "
                    "passphrase went with the last run's data directory)"
                )
            with serving(instance, "--no-worker"):
                print(f"preparing {OPEN_ITEMS} open reviews and a {REVISIONS}-revision document ...", flush=True)
                document_id = prepare(Api(instance.base, tokens))
                browser = signed_in(instance.base, *instance.login(REVIEWER))
                try:
                    timings = measure(browser, document_id, args.samples)
                finally:
                    browser.close()
    finally:
        database.dispose()
        if created and not args.keep:
            circulation._admin(args.postgresql_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        elif created:
            print(f"kept schema {schema}")

    print(
        f"\nschema {schema}: {seeded.rows.get('organisations', 0):,} organisations, "
        f"{seeded.rows.get('documents', 0):,} documents, {seeded.rows.get('steps', 0):,} steps "
        f"({seeded.open_steps:,} open); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'page, ms':<44}{'p50':>8}{'p95':>8}{'p99':>8}   target p95")
    ok = True
    labels = {"inbox": f"/inbox, {OPEN_ITEMS} open items", "document": f"/documents/{{id}}, {REVISIONS} revisions"}
    for name, values in timings.items():
        p95 = _percentile(values, 0.95)
        ok &= p95 < TARGETS[name]
        print(
            f"{labels[name]:<44}{statistics.median(values):>8.1f}{p95:>8.1f}{_percentile(values, 0.99):>8.1f}"
            f"   < {TARGETS[name]:g}  {'ok' if p95 < TARGETS[name] else 'MISSED'}"
        )
    print(f"{args.samples} samples each, one keep-alive client, signed in as {REVIEWER}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
