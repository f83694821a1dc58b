"""Circulation at scale: inbox, supervision and register latency and deadline-sweep throughput over a seeded
province.

    python bench/circulation.py [--steps 100000] [--database sqlite|postgresql|both] [--inbox-samples 1000]
                                [--supervision-samples 200] [--register-samples 200] [--skip inbox,sweeps]
                                [--batch 1000] [--orgs N] [--officials N] [--in-flight 0.3] [--workers 4]
                                [--modes threads,processes] [--pg-load copy|insert] [--postgresql-url URL]
                                [--keep | --schema NAME]

The design point: ``--steps 10000000 --database postgresql`` (110k organisations, 1.5M officials, 3.5M
documents: about 1.5M with routes, theirs averaging 6.6 steps, and 2M archived without one; ``--keep`` the
schema to measure it again with ``--schema``).

PostgreSQL is ``ESIGN_BENCH_DATABASE_URL`` or the local test server; the bench seeds a throwaway schema and drops
it at the end (``--keep`` keeps it, ``--schema NAME`` measures a kept one again without seeding). SQLite is a
file in a temporary directory.

What it seeds, sized from the design point's ratios (110k organisations, 1.5M officials, 10M steps) unless
``--orgs``/``--officials`` say otherwise:

- organisations of heavy-tailed size (log-normal: many township offices, a few provincial departments with
  hundreds of officials), each with departments of about six officials; in every organisation a head
  (leader), a clerk (文书), a seal custodian and an administrator (also a clerk), a leader heading every
  department, a clerk in every sixth place of a department; a webhook subscription to ``step.*`` for
  ``--webhook-share`` of them;
- a hierarchy (``keys.hierarchy``): one province, about one city per 5,000 organisations (at most 21), about
  one district (县级) per 900, and below each district its share of the rest, two thirds bureaus and
  townships right below it and one third 站所 below its townships, so a district oversees about 900 bodies
  (the first one at least 500 when there are that many organisations). The largest organisations sit at the
  top;
- documents, about one per 7 steps, in organisations in proportion to their size, half outgoing (review,
  countersign by other departments, sign-off, registration, seal, dispatch) and half incoming (receipt,
  registration, proposal, instruction, handling by departments, reading by leaders, closure), each with its
  route and the steps opened so far. Assignees mix officials, departments and roles as the default routes do;
- ``--in-flight`` of the documents are still circulating: their current stage's steps are open (a parallel
  stage may have some done already), opened a few days ago (exponential, mean 6 days, a tail up to 90),
  due after the kind's working-day limit, so a realistic share is due within a working day or overdue. All
  other steps are done: in a mature deployment most steps are. Every open step has both its alerts queued
  (``step_alerts``), none sent yet: a backlog, the sweeps' worst day. (A deployment also holds the alerts of
  steps closed before they fell due, until the sweeps take and drop them; they are left out.) A tenth of the
  overdue open steps have been urged (催办, ``step_events``) once;
- titles from a small vocabulary (a topic matches about one document in 30, a topic and a matter one in
  300), so title searches find some and not all;
- requests (``dispatches`` with a reply deadline): a fifth of the dispatched outgoing documents ask one to
  three bodies below their sender (any bodies, for one with none) for information; the replies came, but
  for 3% of the old ones and half of those due in the last days. (Their ``incoming_document_id`` names no
  seeded document: the recipients' copies are not seeded.)

Seeding uses bulk inserts: PostgreSQL ``COPY`` (``--pg-load insert`` runs SQLAlchemy Core ``insert()`` with
lists of rows instead, about 3x slower), SQLite ``executemany`` through Core; one transaction per chunk. The
secondary indexes and foreign keys of the loaded tables are dropped first and rebuilt after, as a bulk load
does.

What it measures, per database:

- inbox: ``documents.circulation.inbox.inbox(session, actor=..., limit=50)``, each call in its own short
  transaction as the API runs it; p50/p95/p99 in ms, for random officials, for the officials with the most
  open steps in their inbox (their own, their department's, their roles'), and for second pages (the
  cursor of a first page that had more);
- supervision: ``documents.circulation.supervision.overview`` (``GET /v1/supervision``) for a leader of the
  district with the most bodies below it, its own steps and with ``subordinates``: first pages of 50 (with
  the requests awaiting replies) and second pages; p50/p95/p99 in ms;
- register: ``documents.circulation.register.search`` (``GET /v1/documents``) in the 20 organisations with
  the most documents and 20 random ones, by filter: none, a title word, two, a word in no title, a number,
  incoming over the last 30 days, overdue, and outgoing overdue with a word; p50/p95/p99 in ms;
- sweeps: ``sweeps.remind`` and ``sweeps.escalate`` (on the repeat schedule a worker runs,
  ``ESIGN_OVERDUE_NOTICES`` and ``ESIGN_OVERDUE_REPEAT_DAYS``: every escalation of a step still open queues
  its next one) run to exhaustion by 1 worker and by ``--workers``
  concurrent workers (threads sharing one ``Database``; processes, each with its own), steps/s = alerts
  taken / wall time. Before each run the open steps' alerts are queued again and the outbox deleted (and
  PostgreSQL vacuumed); after it, every run is checked: one outbox event per eligible step, no step twice,
  no eligible alert left, and for escalations one repeat queued per step. Next to
  the rate, the CPU each step cost, in the workers' Python and in their PostgreSQL backends (read from
  /proc when the server is local): unlike the rate, it does not depend on what else the machine runs.

The targets (PostgreSQL): inbox p95 < 50 ms, sweep >= 20,000 steps/s with 4 workers (at 1M steps and at the
design point); at the design point, supervision over 500+ bodies p95 < 50 ms and register search p95 < 100 ms.
Latencies are wall time: on a shared machine they grow with its load, which the output prints.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, MetaData, func, make_url, select, text  # noqa: E402

from documents.circulation import calendar, inbox, register, supervision, sweeps  # noqa: E402
from documents.circulation.model import (  # noqa: E402
    DEFAULT_DEADLINE_DAYS,
    AlertKind,
    Step,
    StepAlert,
    StepKind,
    StepState,
)
from documents.records import Direction  # noqa: E402
from documents.states import DocumentState, RouteState  # noqa: E402
from esign.db import Database  # noqa: E402
from esign.identity import Actor, Role, Scope  # noqa: E402
from esign.settings import Settings  # noqa: E402
from keys import hierarchy  # noqa: E402
from keys.identities import Official, active_leader  # noqa: E402
from keys.identities import Organisation as OrganisationRow  # noqa: E402
from migrations import migrate  # noqa: E402

DESIGN_ORGS, DESIGN_OFFICIALS, DESIGN_STEPS, DESIGN_DOCUMENTS = 110_000, 1_500_000, 10_000_000, 3_500_000
STEPS_PER_DOCUMENT = 8
OFFICIALS_PER_DEPARTMENT = 6
MAX_DEPARTMENTS = 60
DOCUMENT_CHUNK = 10_000
INBOX_LIMIT = 50
WARM_UP = 50
TARGET_INBOX_P95_MS = 50.0
TARGET_SWEEP_RATE = 20_000.0
TARGET_SUPERVISION_P95_MS = 50.0
TARGET_REGISTER_P95_MS = 100.0
MIN_SUBORDINATES = 500
"""The measured district oversees at least this many bodies (when there are that many organisations)."""
REQUEST_SHARE = 0.2
"""Share of the dispatched outgoing documents that are requests to subordinate bodies, awaiting replies."""
URGE_SHARE = 0.1
"""Share of the overdue open steps a leader has urged (催办) once."""
DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APPLICATION = f"esign-bench-{os.getpid()}"
"""The PostgreSQL application name of this run's connections, to find their backends."""
LOADED_TABLES = (
    "organisations",
    "departments",
    "officials",
    "webhook_subscriptions",
    "documents",
    "routes",
    "steps",
    "step_alerts",
    "dispatches",
    "step_events",
)

Row = tuple[Any, ...]


# --- options ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    steps: int
    orgs: int
    officials: int
    in_flight: float
    """Share of documents still circulating."""
    webhook_share: float
    """Share of organisations with a webhook subscription to ``step.*``."""
    documents: int = 0
    """Documents in all: those the routes' steps need, then as many archived ones without a route as it
    takes (registered and filed before circulation ran here, or never routed)."""

    @classmethod
    def scaled(
        cls,
        steps: int,
        orgs: int | None,
        officials: int | None,
        in_flight: float,
        webhook_share: float,
        documents: int | None = None,
    ) -> Sizes:
        return cls(
            steps=steps,
            orgs=orgs or max(1, round(steps * DESIGN_ORGS / DESIGN_STEPS)),
            officials=officials or max(3, round(steps * DESIGN_OFFICIALS / DESIGN_STEPS)),
            in_flight=in_flight,
            webhook_share=webhook_share,
            documents=documents if documents is not None else round(steps * DESIGN_DOCUMENTS / DESIGN_STEPS),
        )


@dataclass(frozen=True)
class Options:
    sizes: Sizes
    databases: tuple[str, ...]
    postgresql_url: str
    inbox_samples: int
    supervision_samples: int
    register_samples: int
    batch: int
    workers: int
    modes: tuple[str, ...]
    pg_load: str
    seed: int
    schema: str | None
    """Measure this PostgreSQL schema as an earlier ``--keep`` run left it, without seeding."""
    keep: bool
    skip: frozenset[str] = frozenset()


# --- the province: organisations, departments, officials -------------------------------------------


@dataclass
class Organisation:
    id: str
    short_name: str
    departments: list[str] = field(default_factory=list)
    members: list[list[str]] = field(default_factory=list)
    """Officials by department, in the order of ``departments``; each department's first one leads it."""
    head: str = ""
    leaders: list[str] = field(default_factory=list)
    parent: str | None = None
    level: str | None = None
    children: list[Organisation] = field(default_factory=list)


@dataclass
class Province:
    organisations: list[Organisation]
    weights: list[int]
    """Officials per organisation: how much of the circulation each one sees."""


@dataclass(frozen=True)
class Tree:
    """Where each organisation (by index) sits: its parent's index and its level."""

    parents: list[int | None]
    levels: list[str | None]


def _tree(orgs: int) -> Tree:
    """省 → 市 → 区 → 局/乡镇 (→ 站所 under some townships), indexes in that order, so a parent always comes
    first: one province, about one city per 5,000 organisations (at most 21, as in Guangdong), about one
    district per 900, every district with its share of the rest (the first at least ``MIN_SUBORDINATES``
    when there are enough): two thirds bureaus and townships right below it, one third 站所 below its
    townships. The largest organisations are the ones at the top (the caller sorts the sizes)."""
    parents: list[int | None] = [None]
    levels: list[str | None] = [hierarchy.Level.PROVINCE.value]
    if orgs == 1:
        return Tree(parents, levels)
    cities = max(1, min(21, round(orgs / 5000), orgs - 1))
    districts = max(1, min(round(orgs / 900), orgs - 1 - cities))
    parents += [0] * cities
    levels += [hierarchy.Level.CITY.value] * cities
    first_district = len(parents)
    for d in range(districts):
        parents.append(1 + d % cities)
        levels.append(hierarchy.Level.COUNTY.value)
    rest = orgs - len(parents)
    if rest <= 0:
        return Tree(parents[:orgs], levels[:orgs])
    share = [rest // districts + (d < rest % districts) for d in range(districts)]
    if districts > 1 and share[0] < MIN_SUBORDINATES:
        wanted = min(MIN_SUBORDINATES, rest) - share[0]
        share[0] += wanted
        for d in range(1, districts):
            share[d] -= wanted // (districts - 1) + (d <= wanted % (districts - 1))
    for d, count in enumerate(share):
        direct = max(1, count - count // 3)
        below = count - direct
        townships = []
        for i in range(direct):
            parents.append(first_district + d)
            township = i % 3 == 0
            levels.append((hierarchy.Level.TOWNSHIP if township else hierarchy.Level.COUNTY).value)
            if township:
                townships.append(len(parents) - 1)
        for i in range(below):
            parents.append(townships[i % len(townships)] if townships else first_district + d)
            levels.append(hierarchy.Level.TOWNSHIP.value)
    return Tree(parents[:orgs], levels[:orgs])


def _id() -> str:
    return str(uuid.uuid4())


def _organisation_sizes(rng: random.Random, orgs: int, officials: int) -> list[int]:
    """Log-normal sizes scaled to the total, at least 3 (a head, a clerk, a seal custodian)."""
    weights = [rng.lognormvariate(0.0, 1.1) for _ in range(orgs)]
    scale = officials / sum(weights)
    return [max(3, round(w * scale)) for w in weights]


def _roles(department: int, index: int, clerks_every: int) -> list[str]:
    if department == 0 and index < 4:
        return [[Role.LEADER], [Role.CLERK], [Role.SEAL_CUSTODIAN], [Role.ADMIN, Role.CLERK]][index]
    if index == 0:
        return [Role.LEADER]
    if index % clerks_every == 0:
        return [Role.CLERK]
    return [Role.OFFICIAL]


def _organisation_rows(org: Organisation, n: int, size: int, stamp: datetime) -> tuple[Row, list[Row], list[Row]]:
    departments = min(MAX_DEPARTMENTS, max(1, round(size / OFFICIALS_PER_DEPARTMENT)))
    organisation = (org.id, f"广东省第{n}机关", org.short_name, f"{n:018d}", False, stamp, org.parent, org.level)
    department_rows, official_rows = [], []
    for d in range(departments):
        department_id = _id()
        org.departments.append(department_id)
        org.members.append([])
        department_rows.append((department_id, org.id, "办公室" if d == 0 else f"第{d}处", False, stamp))
    clerks_every = 40 // OFFICIALS_PER_DEPARTMENT
    for i in range(size):
        d, index = i % departments, i // departments
        official_id = _id()
        roles = _roles(d, index, clerks_every)
        org.members[d].append(official_id)
        if Role.LEADER in roles:
            org.leaders.append(official_id)
        official_rows.append((official_id, org.id, org.departments[d], f"官员{n}-{i}", roles, False, stamp))
    org.head = org.members[0][0]
    return organisation, department_rows, official_rows


# --- documents, routes and steps -----------------------------------------------------------------------

Spec = tuple[StepKind, str | None, str | None, str | None]
"""A step of a stage: kind, then exactly one of official, department, role."""


def _others(rng: random.Random, org: Organisation, besides: int, most: int) -> list[str]:
    choices = [d for i, d in enumerate(org.departments) if i != besides]
    return rng.sample(choices, min(len(choices), rng.randint(1, most)))


def _outgoing(rng: random.Random, org: Organisation) -> list[tuple[list[Spec], str]]:
    drafting = rng.randrange(len(org.departments))
    head, role = (org.head, None) if rng.random() < 0.7 else (None, Role.LEADER)
    sign_off: Spec = (StepKind.SIGN_OFF, head, None, role)
    stages: list[tuple[list[Spec], str]] = [([(StepKind.REVIEW, org.members[drafting][0], None, None)], "all")]
    countersign = [(StepKind.COUNTERSIGN, None, d, None) for d in _others(rng, org, drafting, 3)]
    if countersign:
        stages.append((countersign, "all"))
    stages += [
        ([sign_off], "all"),
        ([(StepKind.REGISTRATION, None, None, Role.CLERK)], "all"),
        ([(StepKind.SEAL, None, None, Role.SEAL_CUSTODIAN)], "all"),
        ([(StepKind.DISPATCH, None, None, Role.CLERK)], "all"),
    ]
    return stages


def _incoming(rng: random.Random, org: Organisation) -> list[tuple[list[Spec], str]]:
    handlers = [(StepKind.HANDLING, None, d, None) for d in _others(rng, org, -1, 2)]
    readers = [(StepKind.READING, o, None, None) for o in rng.sample(org.leaders, min(len(org.leaders), 3))]
    return [
        ([(StepKind.RECEIPT, None, None, Role.CLERK)], "all"),
        ([(StepKind.REGISTRATION, None, None, Role.CLERK)], "all"),
        ([(StepKind.PROPOSAL, None, None, Role.CLERK)], "all"),
        ([(StepKind.INSTRUCTION, org.head, None, None)], "all"),
        (handlers, "all"),
        (readers, "any"),
        ([(StepKind.CLOSURE, None, None, Role.CLERK)], "all"),
    ]


def _definition(stages: list[tuple[list[Spec], str]]) -> dict[str, Any]:
    """The JSON of a RouteDefinition (as ``model_dump(mode="json")`` gives it)."""
    return {
        "stages": [
            {
                "name": None,
                "quorum": quorum,
                "steps": [
                    {
                        "kind": kind.value,
                        "assignee": {"official_id": o, "department_id": d, "role": r},
                        "deadline_days": None,
                        "requires_signature": None,
                    }
                    for kind, o, d, r in specs
                ],
            }
            for specs, quorum in stages
        ]
    }


TOPICS = (
    "防汛",
    "安全生产",
    "食品安全",
    "疫情防控",
    "财政预算",
    "乡村振兴",
    "义务教育",
    "医疗保障",
    "生态环境",
    "道路交通",
    "住房保障",
    "社会保险",
    "稳就业",
    "招商引资",
    "营商环境",
    "消防安全",
    "审计整改",
    "统计调查",
    "耕地保护",
    "水利建设",
    "森林防火",
    "粮食生产",
    "文物保护",
    "文化旅游",
    "全民健身",
    "科技创新",
    "人才引进",
    "养老服务",
    "信访维稳",
    "应急管理",
)
MATTERS = ("工作", "检查", "督查", "调研", "整改", "培训", "考核", "数据报送", "专项行动", "工作会议")
GENRES = ("通知", "请示", "报告", "函", "批复", "意见", "方案")


def _title(rng: random.Random, year: int) -> str:
    """A title from a small vocabulary: a topic matches about 1 document in 30, a topic and a matter 1 in 300."""
    return f"关于做好{year}年{rng.choice(TOPICS)}{rng.choice(MATTERS)}的{rng.choice(GENRES)}"


@lru_cache(maxsize=100_000)
def _due(opened: date, days: int) -> date:
    return calendar.WorkingCalendar().add_working_days(opened, days)


def _at(day: date, rng: random.Random) -> datetime:
    """A time in Beijing office hours (01:00 to 09:00 UTC) on ``day``."""
    return datetime(day.year, day.month, day.day, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(8 * 3600))


@dataclass
class Batch:
    documents: list[Row] = field(default_factory=list)
    routes: list[Row] = field(default_factory=list)
    steps: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    dispatches: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)


class Circulation:
    """Generates documents with their routes and steps, relative to ``today``."""

    def __init__(self, rng: random.Random, province: Province, today: date, in_flight: float) -> None:
        self.rng, self.province, self.today, self.in_flight = rng, province, today, in_flight
        self.numbers: dict[str, int] = {}
        self._cumulative = list(_accumulate(province.weights))

    def batch(self, documents: int) -> Batch:
        batch = Batch()
        orgs = self.rng.choices(self.province.organisations, cum_weights=self._cumulative, k=documents)
        for org in orgs:
            self._document(batch, org)
        return batch

    def archived(self, documents: int) -> list[Row]:
        """Documents without a route, archived over the last three years."""
        orgs = self.rng.choices(self.province.organisations, cum_weights=self._cumulative, k=documents)
        rows = []
        for org in orgs:
            created = _at(self.today - timedelta(days=self.rng.randint(1, 1100)), self.rng)
            rows.append(self._document_row(_id(), org, self.rng.random() < 0.5, False, 0, created))
        return rows

    def _document(self, batch: Batch, org: Organisation) -> None:
        rng = self.rng
        outgoing = rng.random() < 0.5
        stages = _outgoing(rng, org) if outgoing else _incoming(rng, org)
        flying = rng.random() < self.in_flight
        current = rng.randrange(len(stages)) if flying else len(stages)
        durations = [rng.randint(0, 6) for _ in stages]
        if flying:
            age = min(90, int(rng.expovariate(1 / 6)))
            start = self.today - timedelta(days=age + sum(durations[:current]))
        else:
            start = self.today - timedelta(days=rng.randint(sum(durations) + 1, 400))
        document_id, route_id = _id(), _id()
        created = _at(start, rng)
        batch.documents.append(self._document_row(document_id, org, outgoing, flying, current, created))
        opened = start
        for index, (specs, quorum) in enumerate(stages[: current + 1 if flying else current]):
            done_on = min(self.today, opened + timedelta(days=durations[index]))
            open_stage = index == current
            for position, spec in enumerate(specs):
                state = self._state(open_stage, quorum, position, len(specs))
                row = self._step_row(org, route_id, document_id, index, position, spec, opened, done_on, state)
                batch.steps.append(row)
                if state is StepState.OPEN:
                    batch.alerts += [(row[0], kind.value, org.id, row[14]) for kind in AlertKind]
                    if row[14] < self.today and rng.random() < URGE_SHARE:
                        batch.events.append(self._urge(org, row, opened))
            opened = done_on
        finished = None if flying else _at(opened, rng)
        if outgoing and finished is not None and rng.random() < REQUEST_SHARE:
            batch.dispatches += self._requests(org, document_id, opened, finished)
        batch.routes.append(
            (
                route_id,
                document_id,
                org.id,
                json.dumps(_definition(stages), ensure_ascii=False),
                (RouteState.ACTIVE if flying else RouteState.COMPLETED).value,
                min(current, len(stages) - 1),
                created,
                finished,
            )
        )

    def _urge(self, org: Organisation, step: Row, opened: date) -> Row:
        at = _at(min(self.today, opened + timedelta(days=self.rng.randint(1, 10))), self.rng)
        by = f"official:{self.rng.choice(org.leaders or [org.head])}"
        return (_id(), org.id, step[0], step[2], "urge", by, at, "请抓紧办理", {})

    def _requests(self, org: Organisation, document_id: str, sent_on: date, sent_at: datetime) -> list[Row]:
        """A request (征询, information within 2 working days) to up to three bodies below the sender (any
        bodies when it has none); the replies came, but for a few, and for most of the recent ones."""
        rng = self.rng
        below = org.children or self.province.organisations
        rows = []
        for recipient in rng.sample(below, min(len(below), rng.randint(1, 3))):
            due = _due(sent_on, 2)
            waiting = rng.random() < (0.5 if due >= self.today - timedelta(days=3) else 0.03)
            replied = None if waiting else _at(min(self.today, sent_on + timedelta(days=rng.randint(0, 4))), rng)
            rows.append(
                (_id(), org.id, document_id, recipient.id, _id(), sent_at, sent_at, "information", 2, due, replied)
            )
        return rows

    def _state(self, open_stage: bool, quorum: str, position: int, size: int) -> StepState:
        if not open_stage:
            return StepState.DONE if quorum == "all" or position == 0 else StepState.SKIPPED
        if quorum == "all" and size > 1 and position > 0 and self.rng.random() < 0.3:
            return StepState.DONE
        return StepState.OPEN

    def _document_row(
        self, document_id: str, org: Organisation, outgoing: bool, flying: bool, current: int, created: datetime
    ) -> Row:
        number = None
        if outgoing and (not flying or current > 3):
            self.numbers[org.id] = n = self.numbers.get(org.id, 0) + 1
            number = f"{org.short_name}〔{created.year}〕{n}号"
        state = DocumentState.ARCHIVED
        if flying:
            state = DocumentState.IN_CIRCULATION if outgoing else DocumentState.ARRIVED
        return (
            document_id,
            org.id,
            self.rng.choice(("notice", "request", "report", "reply", "letter")),
            "outgoing" if outgoing else "incoming",
            _title(self.rng, created.year),
            number,
            None,
            None,
            state.value,
            None,
            None,
            self.rng.randint(1, 4),
            False,
            None,
            f"official:{org.head}",
            created,
            created,
        )

    def _step_row(
        self,
        org: Organisation,
        route_id: str,
        document_id: str,
        stage: int,
        position: int,
        spec: Spec,
        opened: date,
        done_on: date,
        state: StepState,
    ) -> Row:
        kind, official, department, role = spec
        days = DEFAULT_DEADLINE_DAYS[kind]
        done = state is not StepState.OPEN
        actor = official or self.rng.choice(org.members[0])
        return (
            _id(),
            route_id,
            document_id,
            org.id,
            stage,
            position,
            kind.value,
            official,
            department,
            role.value if role else None,
            kind is StepKind.SIGN_OFF,
            state.value,
            _at(opened, self.rng),
            opened,
            _due(opened, days),
            _at(done_on, self.rng) if done else None,
            done_on if done else None,
            f"official:{actor}" if done else None,
            "approve" if state is StepState.DONE else None,
            "同意" if state is StepState.DONE else None,
            None,
            department if done else None,
            None,
        )


def _accumulate(values: Sequence[int]) -> Iterator[int]:
    total = 0
    for value in values:
        total += value
        yield total


COLUMNS: dict[str, tuple[str, ...]] = {
    "organisations": ("id", "name", "short_name", "uscc", "disabled", "created_at", "parent_id", "level"),
    "departments": ("id", "organisation_id", "name", "disabled", "created_at"),
    "officials": ("id", "organisation_id", "department_id", "name", "roles", "disabled", "created_at"),
    "webhook_subscriptions": (
        "organisation_id",
        "id",
        "url",
        "event_types",
        "encrypted_secret",
        "active",
        "created_by",
        "created_at",
        "disabled_at",
    ),
    "documents": (
        "id",
        "organisation_id",
        "kind",
        "direction",
        "title",
        "number",
        "secrecy",
        "urgency",
        "state",
        "content",
        "layout",
        "revision_count",
        "flagged",
        "flag_override",
        "created_by",
        "created_at",
        "updated_at",
    ),
    "routes": (
        "id",
        "document_id",
        "organisation_id",
        "definition",
        "state",
        "stage",
        "created_at",
        "completed_at",
    ),
    "steps": (
        "id",
        "route_id",
        "document_id",
        "organisation_id",
        "stage",
        "position",
        "kind",
        "assignee_official_id",
        "assignee_department_id",
        "assignee_role",
        "requires_signature",
        "state",
        "opened_at",
        "opened_on",
        "due_on",
        "completed_at",
        "completed_on",
        "completed_by",
        "outcome",
        "opinion",
        "revision_seq",
        "handled_by_department_id",
        "previous_step_id",
    ),
    "step_alerts": ("step_id", "kind", "organisation_id", "due_on"),
    "dispatches": (
        "id",
        "organisation_id",
        "document_id",
        "recipient_organisation_id",
        "incoming_document_id",
        "dispatched_at",
        "received_at",
        "reply_kind",
        "reply_days",
        "reply_due_on",
        "replied_at",
    ),
    "step_events": ("id", "organisation_id", "step_id", "document_id", "kind", "by", "at", "text", "detail"),
}
JSON_COLUMNS: dict[str, frozenset[str]] = {
    "officials": frozenset({"roles"}),
    "webhook_subscriptions": frozenset({"event_types"}),
    "routes": frozenset({"definition"}),
    "step_events": frozenset({"detail"}),
}
"""Generated as Python values (officials, subscriptions) or as JSON text already (routes)."""


# --- bulk loading ------------------------------------------------------------------------------------


class Loader:
    """Writes chunks of rows, each chunk in its own transaction; counts rows and time per table."""

    def __init__(self, database: Database, method: str) -> None:
        self.database, self.method = database, method
        self.rows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.metadata = MetaData()
        self.metadata.reflect(database.engine, only=list(LOADED_TABLES))

    def write(self, table: str, rows: list[Row]) -> None:
        if not rows:
            return
        start = time.perf_counter()
        if self.method == "copy":
            self._copy(table, rows)
        else:
            self._insert(table, rows)
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - start
        self.rows[table] = self.rows.get(table, 0) + len(rows)

    def _copy(self, table: str, rows: list[Row]) -> None:
        columns = COLUMNS[table]
        encode = [i for i, c in enumerate(columns) if c in JSON_COLUMNS.get(table, ()) and table != "routes"]
        raw = self.database.engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("SET LOCAL synchronous_commit = off")
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    if encode:
                        row = tuple(json.dumps(v, ensure_ascii=False) if i in encode else v for i, v in enumerate(row))
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()

    def _insert(self, table: str, rows: list[Row]) -> None:
        columns = COLUMNS[table]
        decode = "definition" if table == "routes" else None
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        if decode:
            for record in records:
                record[decode] = json.loads(record[decode])
        with self.database.engine.begin() as connection:
            if self.database.dialect == "postgresql":
                connection.execute(text("SET LOCAL synchronous_commit = off"))
            connection.execute(self.metadata.tables[table].insert(), records)


@dataclass(frozen=True)
class Deferred:
    """Secondary indexes and foreign keys of the loaded tables, dropped for the load and rebuilt after."""

    drop: list[str]
    create: list[str]


def _deferred_postgresql(connection: Connection) -> Deferred:
    tables = list(LOADED_TABLES)
    indexes = connection.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
            " WHERE c.conname = i.indexname AND c.connamespace = to_regnamespace(current_schema()))"
        ),
        {"tables": tables},
    ).all()
    keys = connection.execute(
        text(
            "SELECT c.conname, r.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_class r ON r.oid = c.conrelid WHERE c.contype = 'f'"
            " AND c.connamespace = to_regnamespace(current_schema()) AND r.relname = ANY(:tables)"
        ),
        {"tables": tables},
    ).all()
    return Deferred(
        drop=[f"ALTER TABLE {t} DROP CONSTRAINT {n}" for n, t, _ in keys] + [f"DROP INDEX {n}" for n, _ in indexes],
        create=[d for _, d in indexes] + [f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for n, t, d in keys],
    )


def _deferred_sqlite(connection: Connection) -> Deferred:
    indexes = connection.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({', '.join(repr(t) for t in LOADED_TABLES)})"
        )
    ).all()
    return Deferred(drop=[f"DROP INDEX {n}" for n, _ in indexes], create=[s for _, s in indexes])


def _run_ddl(database: Database, statements: list[str]) -> None:
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            connection.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for statement in statements:
            connection.execute(text(statement))


@dataclass(frozen=True)
class Seeded:
    rows: dict[str, int]
    seconds: float
    load_seconds: dict[str, float]
    index_seconds: float
    open_steps: int


def seed(database: Database, options: Options, today: date) -> Seeded:
    rng = random.Random(options.seed)
    loader = Loader(database, options.pg_load if database.dialect == "postgresql" else "insert")
    with database.engine.connect() as connection:
        deferred = (_deferred_postgresql if database.dialect == "postgresql" else _deferred_sqlite)(connection)
    start = time.perf_counter()
    _run_ddl(database, deferred.drop)
    province = _seed_province(rng, loader, options.sizes)
    _seed_circulation(rng, loader, province, options.sizes, today)
    loaded = time.perf_counter()
    _run_ddl(database, deferred.create)
    _analyse(database)
    end = time.perf_counter()
    with database.engine.connect() as connection:
        open_steps = connection.execute(text("SELECT count(*) FROM steps WHERE state = 'open'")).scalar_one()
    return Seeded(
        rows=loader.rows,
        seconds=end - start,
        load_seconds=loader.seconds,
        index_seconds=end - loaded,
        open_steps=open_steps,
    )


def _seed_province(rng: random.Random, loader: Loader, sizes: Sizes) -> Province:
    stamp = datetime.now(UTC)
    organisations: list[Organisation] = []
    weights = sorted(_organisation_sizes(rng, sizes.orgs, sizes.officials), reverse=True)
    tree = _tree(len(weights))
    chunk: dict[str, list[Row]] = {"organisations": [], "departments": [], "officials": [], "webhook_subscriptions": []}
    for n, size in enumerate(weights):
        above = tree.parents[n]
        org = Organisation(
            id=_id(),
            short_name=f"粤{n}办",
            parent=organisations[above].id if above is not None else None,
            level=tree.levels[n],
        )
        if above is not None:
            organisations[above].children.append(org)
        organisation, departments, officials = _organisation_rows(org, n, size, stamp)
        organisations.append(org)
        chunk["organisations"].append(organisation)
        chunk["departments"] += departments
        chunk["officials"] += officials
        if rng.random() < sizes.webhook_share:
            chunk["webhook_subscriptions"].append(
                (
                    org.id,
                    _id(),
                    f"https://oa{n}.example.gov.cn/hooks/esign",
                    ["step.*"],
                    "v1:" + secrets.token_urlsafe(60),
                    True,
                    "official:" + org.head,
                    stamp,
                    None,
                )
            )
        if len(chunk["officials"]) >= 50_000 or n == len(weights) - 1:
            for table, rows in chunk.items():
                loader.write(table, rows)
                rows.clear()
    return Province(organisations=organisations, weights=weights)


def _seed_circulation(rng: random.Random, loader: Loader, province: Province, sizes: Sizes, today: date) -> None:
    circulation = Circulation(rng, province, today, sizes.in_flight)
    steps = 0
    while steps < sizes.steps:
        documents = max(1, min(DOCUMENT_CHUNK, (sizes.steps - steps) // STEPS_PER_DOCUMENT))
        batch = circulation.batch(documents)
        loader.write("documents", batch.documents)
        loader.write("routes", batch.routes)
        loader.write("steps", batch.steps)
        loader.write("step_alerts", batch.alerts)
        loader.write("dispatches", batch.dispatches)
        loader.write("step_events", batch.events)
        steps += len(batch.steps)
    missing = sizes.documents - loader.rows.get("documents", 0)
    while missing > 0:
        archived = circulation.archived(min(DOCUMENT_CHUNK, missing))
        loader.write("documents", archived)
        missing -= len(archived)


def _analyse(database: Database) -> None:
    if database.dialect != "postgresql":
        return  # an embedded SQLite deployment never runs ANALYZE; measure it as it is
    with database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text(f"VACUUM ANALYZE {', '.join(LOADED_TABLES)}"))


# --- inbox latency -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    label: str
    samples: list[float]
    rows: float
    """Mean steps (entries) on the page."""
    target: float = TARGET_INBOX_P95_MS
    """p95 target in ms."""
    cpu: str = ""
    """CPU ms per call, Python + PostgreSQL backends (as for the sweeps): what a call costs, whatever the load."""

    def percentile(self, p: int) -> float:
        if len(self.samples) < 2:
            return self.samples[0] if self.samples else math.nan
        return statistics.quantiles(self.samples, n=100, method="inclusive")[p - 1]


def _actor(official: str, organisation: str, roles: Sequence[str]) -> Actor:
    return Actor(
        organisation_id=organisation,
        official_id=official,
        system_name=None,
        roles=frozenset(Role(r) for r in roles),
        scopes=frozenset({Scope.DOCUMENTS}),
    )


def _random_officials(database: Database, count: int) -> list[Actor]:
    query = select(Official.id, Official.organisation_id, Official.roles).order_by(func.random()).limit(count)
    with database.transaction() as session:
        return [_actor(*row) for row in session.execute(query)]


def _busiest_officials(database: Database, count: int) -> list[Actor]:
    """The officials with the most open steps in their inbox (theirs, their department's, their roles')."""
    open_steps = select(func.count()).where(Step.state == StepState.OPEN.value)
    with database.transaction() as session:
        direct = dict(
            session.execute(open_steps.add_columns(Step.assignee_official_id).group_by(Step.assignee_official_id)).all()
        )
        by_department = dict(
            session.execute(
                open_steps.add_columns(Step.assignee_department_id)
                .where(Step.assignee_official_id.is_(None))
                .group_by(Step.assignee_department_id)
            ).all()
        )
        by_role = {
            (organisation, role): n
            for n, organisation, role in session.execute(
                open_steps.add_columns(Step.organisation_id, Step.assignee_role)
                .where(Step.assignee_role.is_not(None))
                .group_by(Step.organisation_id, Step.assignee_role)
            )
        }
        officials = session.execute(
            select(Official.id, Official.organisation_id, Official.department_id, Official.roles)
        ).all()
    swapped = {k: v for v, k in direct.items()}, {k: v for v, k in by_department.items()}
    load = sorted(
        officials,
        reverse=True,
        key=lambda o: swapped[0].get(o[0], 0) + swapped[1].get(o[2], 0) + sum(by_role.get((o[1], r), 0) for r in o[3]),
    )
    return [_actor(official, organisation, roles) for official, organisation, _, roles in load[:count]]


def _timed_page(database: Database, actor: Actor, cursor: str | None) -> tuple[float, inbox.InboxPage]:
    start = time.perf_counter()
    with database.transaction() as session:
        page = inbox.inbox(session, actor=actor, limit=INBOX_LIMIT, cursor=cursor)
    return (time.perf_counter() - start) * 1000, page


Timings = tuple[list[float], list[int]]
"""Milliseconds per call, and steps per page."""


def _sample(database: Database, actors: Sequence[Actor], second: Timings) -> Timings:
    """First pages of ``actors``; second pages, where there is one, go to ``second``."""
    times, rows = [], []
    for actor in actors:
        ms, page = _timed_page(database, actor, None)
        times.append(ms)
        rows.append(len(page.steps))
        if page.next_cursor:
            ms, page = _timed_page(database, actor, page.next_cursor)
            second[0].append(ms)
            second[1].append(len(page.steps))
    return times, rows


def measure_inbox(database: Database, samples: int) -> list[Latency]:
    everyone = _random_officials(database, samples + WARM_UP)
    busiest = _busiest_officials(database, samples)
    for actor in everyone[:WARM_UP]:
        _timed_page(database, actor, None)
    second: Timings = ([], [])
    first, rows = _sample(database, everyone[WARM_UP:], second)
    heavy, heavy_rows = _sample(database, busiest, second)
    return [
        Latency("first page, random officials", first, _mean(rows)),
        Latency("first page, busiest officials", heavy, _mean(heavy_rows)),
        Latency("second page (cursor)", second[0], _mean(second[1])),
    ]


def _mean(values: Sequence[int]) -> float:
    return statistics.fmean(values) if values else 0.0


# --- supervision and the register ----------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    organisation_id: str
    leader: Actor
    subordinates: int


def _district(database: Database) -> District | None:
    """The district (县级 body with a parent) with the most bodies below it, and one of its leaders."""
    with database.transaction() as session:
        counted = session.execute(
            select(OrganisationRow.parent_id, func.count())
            .where(OrganisationRow.parent_id.is_not(None))
            .group_by(OrganisationRow.parent_id)
            .order_by(func.count().desc())
            .limit(20)
        ).all()
        best: tuple[int, str] | None = None
        for parent, _ in counted:
            if parent is None:
                continue
            level = session.scalar(select(OrganisationRow.level).where(OrganisationRow.id == parent))
            if level != hierarchy.Level.COUNTY.value:
                continue
            below = len(hierarchy.subordinates(session, parent))
            if best is None or below > best[0]:
                best = (below, parent)
        if best is None:
            return None
        leader = session.execute(
            select(Official.id, Official.roles)
            .where(Official.organisation_id == best[1], active_leader())
            .order_by(Official.id)
            .limit(1)
        ).one()
    return District(best[1], _actor(leader[0], best[1], leader[1]), best[0])


class CpuMeter:
    """The CPU a block of calls costs: this process's, and its PostgreSQL backends' when the server is local."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __enter__(self) -> CpuMeter:
        self.backends, self.start = _backend_cpu(self.database), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.python = time.process_time() - self.start
        self.db = _used(self.backends, _backend_cpu(self.database))

    def per_call(self, calls: int) -> str:
        if not calls:
            return ""
        python = self.python / calls * 1000
        return f"{python:.1f} + ?" if self.db is None else f"{python:.1f} + {self.db / calls * 1000:.1f}"


def _timed(database: Database, call: Callable[[Any], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    with database.transaction() as session:
        answer = call(session)
    return (time.perf_counter() - start) * 1000, answer


def measure_supervision(database: Database, samples: int, today: date) -> tuple[District | None, list[Latency]]:
    """``GET /v1/supervision``'s service call for the district's leader: its own steps, then with every body
    below it (first pages, and second pages by the cursor)."""
    district = _district(database)
    if district is None:
        return None, []
    warn = Settings.model_fields["supervision_warn_days"].default

    def page(subordinates: bool, cursor: str | None = None) -> Callable[[Any], supervision.Page]:
        return lambda session: supervision.overview(
            session,
            actor=district.leader,
            warn_days=warn,
            subordinates=subordinates,
            limit=INBOX_LIMIT,
            cursor=cursor,
            today=today,
        )

    for _ in range(WARM_UP):
        _timed(database, page(True))
    results = []
    for label, subordinates in (("own steps", False), (f"with {district.subordinates} bodies below", True)):
        times, rows, second, second_rows, replies = [], [], [], [], []
        with CpuMeter(database) as firsts:
            for _ in range(samples):
                ms, first = _timed(database, page(subordinates))
                times.append(ms)
                rows.append(len(first.steps))
                replies.append(len(first.replies))
        # Every first page is the same leader's, so its cursor is the same: second pages are timed apart.
        with CpuMeter(database) as seconds:
            for _ in range(samples if first.next_cursor else 0):
                ms, more = _timed(database, page(subordinates, first.next_cursor))
                second.append(ms)
                second_rows.append(len(more.steps))
        results.append(Latency(label, times, _mean(rows), TARGET_SUPERVISION_P95_MS, firsts.per_call(len(times))))
        results.append(
            Latency(
                f"{label}, 2nd page",
                second,
                _mean(second_rows),
                TARGET_SUPERVISION_P95_MS,
                seconds.per_call(len(second)),
            )
        )
        print(f"    supervision {label}: {_mean(replies):.0f} awaited replies on the first page")
    return district, results


def _register_organisations(database: Database, count: int) -> list[tuple[str, list[str]]]:
    """The organisations with the most documents, then as many at random; each with some of its numbers."""
    with database.transaction() as session:
        busiest = session.scalars(
            text("SELECT organisation_id FROM documents GROUP BY organisation_id ORDER BY count(*) DESC LIMIT :n"),
            {"n": count},
        ).all()
        anyone = session.scalars(select(OrganisationRow.id).order_by(func.random()).limit(count)).all()
        chosen = list(dict.fromkeys([*busiest, *anyone]))
        numbers: dict[str, list[str]] = {o: [] for o in chosen}
        for organisation, number in session.execute(
            text(
                "SELECT organisation_id, number FROM documents WHERE number IS NOT NULL"
                " AND organisation_id = ANY(:ids) AND random() < 0.2"
                if database.dialect == "postgresql"
                else "SELECT organisation_id, number FROM documents WHERE number IS NOT NULL"
            ),
            {"ids": chosen} if database.dialect == "postgresql" else {},
        ):
            if organisation in numbers and len(numbers[organisation]) < 20:
                numbers[organisation].append(number)
    return [(o, numbers[o]) for o in chosen]


def measure_register(database: Database, samples: int, today: date) -> list[Latency]:
    """``register.search`` (``GET /v1/documents``) with the filters a clerk types, in the organisations with
    the most documents and in random ones; first pages of 50."""
    rng = random.Random(7)
    organisations = _register_organisations(database, 20)
    month = today - timedelta(days=30)
    shapes: dict[str, Callable[[list[str]], register.Filters]] = {
        "no filter": lambda _: register.Filters(),
        "title: a topic": lambda _: register.Filters(words=(rng.choice(TOPICS),)),
        "title: topic and matter": lambda _: register.Filters(words=(rng.choice(TOPICS), rng.choice(MATTERS))),
        "title: a word in no title": lambda _: register.Filters(words=("不存在的词",)),
        "number": lambda numbers: register.Filters(number=rng.choice(numbers) if numbers else "无此文号"),
        "incoming, last 30 days": lambda _: register.Filters(
            direction=Direction.INCOMING, created_from=month, created_to=today
        ),
        "overdue": lambda _: register.Filters(overdue=True),
        "outgoing, overdue, a topic": lambda _: register.Filters(
            direction=Direction.OUTGOING, overdue=True, words=(rng.choice(TOPICS),)
        ),
    }
    clerks = {o: _actor("", o, [Role.CLERK]) for o, _ in organisations}

    def search(organisation: str, filters: register.Filters) -> Callable[[Any], register.Page]:
        return lambda session: register.search(
            session, actor=clerks[organisation], filters=filters, limit=INBOX_LIMIT, today=today
        )

    for organisation, numbers in organisations[:WARM_UP]:
        _timed(database, search(organisation, shapes["title: a topic"](numbers)))
    results = []
    for label, shape in shapes.items():
        times, rows = [], []
        with CpuMeter(database) as cpu:
            for i in range(samples):
                organisation, numbers = organisations[i % len(organisations)]
                ms, page = _timed(database, search(organisation, shape(numbers)))
                times.append(ms)
                rows.append(len(page.entries))
        results.append(Latency(label, times, _mean(rows), TARGET_REGISTER_P95_MS, cpu.per_call(samples)))
    return results


# --- sweep throughput --------------------------------------------------------------------------------

SCHEDULE = sweeps.Schedule(
    notices=int(os.environ.get("ESIGN_OVERDUE_NOTICES", Settings.model_fields["overdue_notices"].default)),
    every=int(os.environ.get("ESIGN_OVERDUE_REPEAT_DAYS", Settings.model_fields["overdue_repeat_days"].default)),
)
"""The escalations repeat as a deployment's worker runs them (``sweeps.jobs``): each escalated batch also
queues the steps' next escalation, one more INSERT in its transaction."""


def _escalate(database: Database, *, today: date | None = None, batch: int = sweeps.BATCH) -> int:
    return sweeps.escalate(database, today=today, batch=batch, schedule=SCHEDULE)


JOBS: dict[str, tuple[Callable[..., int], AlertKind, str]] = {
    "remind": (sweeps.remind, AlertKind.DUE_SOON, "step.due_soon"),
    "escalate": (_escalate, AlertKind.OVERDUE, "step.overdue"),
}


@dataclass(frozen=True)
class Measured:
    marked: int
    seconds: float
    python_cpu: float
    """CPU seconds of the workers' Python (all threads or processes)."""
    database_cpu: float | None
    """CPU seconds of their PostgreSQL backends, when the server runs on this machine."""


@dataclass(frozen=True)
class SweepRun:
    job: str
    mode: str
    workers: int
    eligible: int
    measured: Measured

    @property
    def rate(self) -> float:
        return self.measured.marked / self.measured.seconds if self.measured.seconds else math.nan

    def cpu_per_step(self) -> str:
        """Microseconds of CPU per step, Python + database: what the run costs, whoever else uses the cores."""
        m = self.measured
        python = m.python_cpu / m.marked * 1e6
        if m.database_cpu is None:
            return f"{python:.0f} + ?"
        return f"{python:.0f} + {m.database_cpu / m.marked * 1e6:.0f}"


def _threshold(database: Database, job: str, today: date) -> date:
    if job == "escalate":
        return today - timedelta(days=1)
    with database.transaction() as session:
        return calendar.load(session, organisation_id=calendar.GLOBAL).add_working_days(today, 1)


def _reset(database: Database) -> None:
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM webhook_deliveries"))
        connection.execute(text("DELETE FROM outbox_events"))
        connection.execute(text("DELETE FROM step_alerts"))
        for kind in AlertKind:
            connection.execute(
                text(
                    "INSERT INTO step_alerts (step_id, kind, organisation_id, due_on)"
                    " SELECT id, :kind, organisation_id, due_on FROM steps WHERE state = 'open'"
                ),
                {"kind": kind.value},
            )
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("VACUUM ANALYZE step_alerts, outbox_events, webhook_deliveries"))


def _due_alerts(job: str, due_by: date) -> Any:
    kind = JOBS[job][1]
    return select(func.count()).select_from(StepAlert).where(StepAlert.kind == kind.value, StepAlert.due_on <= due_by)


def _eligible(database: Database, job: str, today: date) -> int:
    """Open steps with an alert of the job's kind due by its threshold."""
    query = (
        _due_alerts(job, _threshold(database, job, today))
        .join(Step, Step.id == StepAlert.step_id)
        .where(Step.state == StepState.OPEN.value)
    )
    with database.transaction() as session:
        return session.execute(query).scalar_one()


def _check(database: Database, job: str, today: date, eligible: int, marked: int) -> None:
    event = JOBS[job][2]
    with database.engine.connect() as connection:
        events, subjects = connection.execute(
            text("SELECT count(*), count(DISTINCT subject) FROM outbox_events WHERE type = :type"), {"type": event}
        ).one()
    with database.transaction() as session:
        left = session.execute(_due_alerts(job, _threshold(database, job, today))).scalar_one()
        queued = session.execute(
            select(func.count())
            .select_from(StepAlert)
            .where(StepAlert.kind == AlertKind.OVERDUE.value, StepAlert.seq == 1)
        ).scalar_one()
    repeats = eligible if job == "escalate" and SCHEDULE.notices > 1 else 0
    if not marked == events == subjects == eligible or left or queued != repeats:
        raise SystemExit(
            f"{job}: {eligible} eligible, {marked} reported, {events} events for {subjects} steps, "
            f"{left} due alerts left, {queued} repeats queued ({repeats} expected)"
        )


def _warm_up(database: Database, today: date) -> None:
    """Imports, calendars and statement caches a worker builds on its first round, before the clock starts."""
    import webhooks  # noqa: F401  (emit_many imports it on first use)

    for job, (sweep, _, _) in JOBS.items():
        _threshold(database, job, today)
        sweep(database, today=date(2000, 1, 3), batch=1)


def _drain(database: Database, job: str, today: date, batch: int) -> int:
    sweep = JOBS[job][0]
    total = 0
    while (done := sweep(database, today=today, batch=batch)) > 0:
        total += done
    return total


def _backend_cpu(database: Database) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend of this bench (by application name), read from
    /proc; empty unless the server runs on this machine."""
    if database.dialect != "postgresql" or database.url.host not in ("127.0.0.1", "localhost", "::1"):
        return {}
    with database.engine.connect() as connection:
        pids = (
            connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"), {"name": APPLICATION}
            )
            .scalars()
            .all()
        )
    used = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not ours to read, or not on this machine
            return {}
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def _used(before: dict[int, float], after: dict[int, float]) -> float | None:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items()) if after else None


def _threads(database: Database, job: str, today: date, batch: int, workers: int) -> Measured:
    counts: list[int] = []
    barrier = threading.Barrier(workers + 1)

    def work() -> None:
        barrier.wait()
        counts.append(_drain(database, job, today, batch))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    backends = _backend_cpu(database)
    cpu = time.process_time()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return Measured(sum(counts), seconds, time.process_time() - cpu, _used(backends, _backend_cpu(database)))


def _process_worker(
    url: str, schema: str | None, job: str, today: date, batch: int, barrier: Any, results: Any, finish: Any
) -> None:
    database = Database(url, schema=schema)
    _warm_up(database, today)
    barrier.wait()
    cpu = time.process_time()
    done = _drain(database, job, today, batch)
    results.put((done, time.monotonic(), time.process_time() - cpu))
    finish.wait()  # keep the connection until the parent has read its backend's CPU
    database.dispose()


def _processes(database: Database, job: str, today: date, batch: int, workers: int) -> Measured:
    context = multiprocessing.get_context("spawn")
    barrier, finish, results = context.Barrier(workers + 1), context.Event(), context.Queue()
    url = database.url.render_as_string(hide_password=False)
    processes = [
        context.Process(
            target=_process_worker, args=(url, database.schema, job, today, batch, barrier, results, finish)
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    start = time.monotonic()
    backends = _backend_cpu(database)
    finished = [results.get() for _ in processes]
    database_cpu = _used(backends, _backend_cpu(database))
    finish.set()
    for process in processes:
        process.join()
    return Measured(
        marked=sum(done for done, _, _ in finished),
        seconds=max(end for _, end, _ in finished) - start,
        python_cpu=sum(cpu for _, _, cpu in finished),
        database_cpu=database_cpu,
    )


def measure_sweeps(database: Database, options: Options, today: date) -> list[SweepRun]:
    plans = [("threads", 1)] + [(mode, options.workers) for mode in options.modes]
    runs = []
    _warm_up(database, today)
    for job in JOBS:
        for mode, workers in plans:
            _reset(database)
            eligible = _eligible(database, job, today)
            run = _processes if mode == "processes" else _threads
            measured = run(database, job, today, options.batch, workers)
            _check(database, job, today, eligible, measured.marked)
            runs.append(SweepRun(job, mode, workers, eligible, measured))
            print(
                f"  {job:<8} {workers} {mode:<9} {measured.marked:>9,} steps in {measured.seconds:6.2f} s ="
                f" {runs[-1].rate:9,.0f} steps/s; CPU us/step {runs[-1].cpu_per_step()}; load {os.getloadavg()[0]:.1f}"
            )
    _reset(database)
    return runs


# --- the databases -------------------------------------------------------------------------------------


def _admin(url: str, statement: str) -> None:
    admin = Database(url)
    try:
        with admin.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text(statement))
    finally:
        admin.dispose()


def _server(database: Database) -> str:
    with database.engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
        settings = ", ".join(
            f"{name} {connection.execute(text(f'SHOW {name}')).scalar_one()}"
            for name in ("shared_buffers", "synchronous_commit", "max_wal_size")
        )
    return f"PostgreSQL {version}: {settings}"


def _size(database: Database) -> str:
    with database.engine.connect() as connection:
        if database.dialect == "postgresql":
            size = connection.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                    " WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r'"
                )
            ).scalar_one()
        else:
            pages = connection.execute(text("PRAGMA page_count")).scalar_one()
            size = pages * connection.execute(text("PRAGMA page_size")).scalar_one()
    return f"{int(size) / 2**30:.2f} GiB"


def _counted(database: Database) -> Seeded:
    """What an earlier run seeded (``--schema``): the rows there are, no timings."""
    with database.engine.connect() as connection:
        rows = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in LOADED_TABLES}
        open_steps = connection.execute(text("SELECT count(*) FROM steps WHERE state = 'open'")).scalar_one()
    return Seeded(rows=rows, seconds=math.nan, load_seconds={}, index_seconds=math.nan, open_steps=open_steps)


def _postgresql(options: Options) -> tuple[Database, str, bool]:
    """The bench's database: a new schema, or the one ``--schema`` names; and whether it is new."""
    schema = options.schema or f"bench_{secrets.token_hex(4)}"
    if options.schema is None:
        _admin(options.postgresql_url, f"CREATE SCHEMA {schema}")
    url = make_url(options.postgresql_url).update_query_dict({"application_name": APPLICATION})
    return Database(url.render_as_string(hide_password=False), schema=schema), schema, options.schema is None


def run_one(dialect: str, options: Options, workdir: Path) -> None:
    schema, created = None, True
    if dialect == "postgresql":
        database, schema, created = _postgresql(options)
    else:
        database = Database(f"sqlite:///{workdir / 'circulation.db'}")
    try:
        today = calendar.today()
        if created:
            migrate.upgrade(database)
            method = options.pg_load if schema else "executemany"
            where = schema or "a temporary file"
            print(f"\n== {dialect}: seeding {options.sizes.steps:,} steps ({method}) into {where}")
            seeded = seed(database, options, today)
            _print_seeded(seeded, _size(database))
        else:
            print(f"\n== {dialect}: schema {schema} as seeded before")
            seeded = _counted(database)
        if schema is not None:
            print(f"  {_server(database)}")
        latencies: dict[str, list[Latency]] = {}
        if "inbox" not in options.skip:
            print("  inbox ...")
            latencies["inbox (limit 50)"] = measure_inbox(database, options.inbox_samples)
        print("  supervision ...")
        district, latencies["supervision (limit 50)"] = measure_supervision(
            database, options.supervision_samples, today
        )
        print("  register ...")
        latencies["register search (limit 50)"] = measure_register(database, options.register_samples, today)
        runs = []
        if "sweeps" not in options.skip:
            print(f"  sweeps (escalations: {SCHEDULE.notices} notices, every {SCHEDULE.every} working days) ...")
            runs = measure_sweeps(database, options, today)
        _print_table(dialect, options, seeded, district, latencies, runs)
    finally:
        database.dispose()
        if schema is not None and created and not options.keep:
            _admin(options.postgresql_url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        elif schema is not None:
            print(f"  kept schema {schema}: --schema {schema} measures it again; DROP SCHEMA {schema} CASCADE drops it")


def _print_seeded(seeded: Seeded, size: str) -> None:
    for table, count in seeded.rows.items():
        seconds = seeded.load_seconds[table]
        print(f"  {table:<22} {count:>11,} rows in {seconds:7.1f} s = {count / seconds:10,.0f} rows/s")
    steps = seeded.rows.get("steps", 0)
    print(
        f"  seeded in {seeded.seconds:.1f} s ({steps / seeded.seconds:,.0f} steps/s overall, indexes, keys and"
        f" ANALYZE {seeded.index_seconds:.1f} s); {seeded.open_steps:,} steps open; {size} on disk"
    )


def _print_table(
    dialect: str,
    options: Options,
    seeded: Seeded,
    district: District | None,
    latencies: dict[str, list[Latency]],
    runs: list[SweepRun],
) -> None:
    rows = seeded.rows
    print(
        f"\n{dialect}: {rows.get('organisations', 0):,} organisations, {rows.get('departments', 0):,} departments,"
        f" {rows.get('officials', 0):,} officials, {rows.get('documents', 0):,} documents,"
        f" {rows.get('steps', 0):,} steps ({seeded.open_steps:,} open), {rows.get('dispatches', 0):,} requests,"
        f" {rows.get('step_events', 0):,} urges; load average {os.getloadavg()[0]:.1f}"
    )
    if district is not None:
        print(f"  supervising district {district.organisation_id}: {district.subordinates} bodies below it")
    for title, measured in latencies.items():
        print(
            f"  {title:<36} {'n':>6} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  {'target':<22}"
            f" CPU ms/call py+db"
        )
        for latency in measured:
            p95 = latency.percentile(95)
            verdict = "n/a" if not latency.samples else "ok" if p95 < latency.target else "MISSED"
            print(
                f"  {latency.label:<36} {len(latency.samples):>6} {latency.rows:>5.1f}"
                f" {latency.percentile(50):>8.2f} {p95:>8.2f} {latency.percentile(99):>8.2f}"
                f"  {f'p95 < {latency.target:.0f} ms {verdict}':<22} {latency.cpu}"
            )
    print(
        f"  {'sweep (batch ' + str(options.batch) + ')':<32} {'eligible':>9} {'seconds':>8} {'steps/s':>9}"
        f" {'CPU us/step py+db':>18}  target"
    )
    for run in runs:
        label = f"{run.job}, {run.workers} {run.mode if run.workers > 1 else run.mode[:-1]}"
        goal = ""
        if run.workers >= 4:
            goal = f">= {TARGET_SWEEP_RATE:,.0f}/s {'ok' if run.rate >= TARGET_SWEEP_RATE else 'MISSED'}"
        print(
            f"  {label:<32} {run.eligible:>9,} {run.measured.seconds:>8.2f} {run.rate:>9,.0f}"
            f" {run.cpu_per_step():>18}  {goal}"
        )


# --- command line --------------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=100_000, help="steps to seed (default 100,000)")
    parser.add_argument("--orgs", type=int, help="organisations (default: steps x 110k/10M)")
    parser.add_argument("--officials", type=int, help="officials (default: steps x 1.5M/10M)")
    parser.add_argument(
        "--documents", type=int, help="documents, adding archived ones without a route (default: steps x 3.5M/10M)"
    )
    parser.add_argument("--in-flight", type=float, default=0.3, help="share of documents still circulating")
    parser.add_argument("--webhook-share", type=float, default=0.1, help="share of organisations with a webhook")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgresql-url", default=os.environ.get("ESIGN_BENCH_DATABASE_URL", DEFAULT_POSTGRESQL_URL))
    parser.add_argument("--inbox-samples", type=int, default=1000)
    parser.add_argument("--supervision-samples", type=int, default=200, help="calls per supervision case")
    parser.add_argument("--register-samples", type=int, default=200, help="searches per register filter")
    parser.add_argument("--skip", default="", help="comma-separated parts not to measure: inbox, sweeps")
    parser.add_argument("--batch", type=int, default=sweeps.BATCH, help="steps claimed per sweep transaction")
    parser.add_argument("--workers", type=int, default=4, help="concurrent sweep workers (besides the single one)")
    parser.add_argument("--modes", default="threads,processes", help="how the concurrent workers run")
    parser.add_argument("--pg-load", choices=("copy", "insert"), default="copy", help="PostgreSQL bulk load")
    parser.add_argument("--seed", type=int, default=20261123, help="random seed of the generated province")
    parser.add_argument("--keep", action="store_true", help="keep the seeded PostgreSQL schema")
    parser.add_argument("--schema", help="measure a schema an earlier --keep run seeded (PostgreSQL only)")
    args = parser.parse_args(argv)
    if args.schema and args.database != "postgresql":
        parser.error("--schema needs --database postgresql")
    modes = tuple(m for m in args.modes.split(",") if m)
    if not set(modes) <= {"threads", "processes"}:
        parser.error("--modes takes threads and/or processes")
    return Options(
        sizes=Sizes.scaled(args.steps, args.orgs, args.officials, args.in_flight, args.webhook_share, args.documents),
        databases=("sqlite", "postgresql") if args.database == "both" else (args.database,),
        postgresql_url=args.postgresql_url,
        inbox_samples=args.inbox_samples,
        supervision_samples=args.supervision_samples,
        register_samples=args.register_samples,
        batch=args.batch,
        workers=args.workers,
        modes=modes,
        pg_load=args.pg_load,
        seed=args.seed,
        schema=args.schema,
        keep=args.keep,
        skip=frozenset(p for p in args.skip.split(",") if p),
    )


def main(argv: Sequence[str] | None = None) -> None:
    options = parse(argv)
    sizes = options.sizes
    print(
        f"circulation bench: {sizes.steps:,} steps, {sizes.orgs:,} organisations, {sizes.officials:,} officials,"
        f" {sizes.documents:,} documents,"
        f" {sizes.in_flight:.0%} of documents in flight; {os.cpu_count()} cores, load average"
        f" {os.getloadavg()[0]:.1f} (other work on the machine slows the rates, not the CPU per step)"
    )
    with tempfile.TemporaryDirectory(prefix="esign-bench-") as workdir:
        for dialect in options.databases:
            run_one(dialect, options, Path(workdir))


if __name__ == "__main__":
    main()
