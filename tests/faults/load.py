"""A steady stream of cases into the system, and the check, from outside, of what became of
them.

`Load` sends cases at a steady pace, half over HTTP (`POST /v1/cases`, round robin over the
triage instances) and half as CloudEvents on the input topic, from a thread with its own
event loop, while the scenario injects its fault. It behaves as a well-written client: an
HTTP case is sent again with the same `Idempotency-Key` after a refused connection, a 5xx or
a 503 (waiting its `Retry-After`) until it is accepted (201) or its deadline passes; a Kafka
record is produced again (the same event id) until the broker acknowledges it. With
`poison_every`, every n-th Kafka record is one that cannot be accepted (not JSON, not a
case, an unknown event type, binary junk), which must reach the dead-letter topic.

`settle` waits until every accepted case is routed and no notification is still queued,
then counts: sent, accepted, routed (exactly one routing decision), duplicates (a second
routing decision, or a squad told the same thing by two notifications), redelivered (one
notification delivered more than once: the receiver sees the same idempotency key again),
lost (accepted, never routed), stuck (a case or notification left in a state nothing will
move it from).

`delivery_delays` measures, from the sink's side, how long notifications took: from a case's
routing (the notification's `created_at`, the router's clock at routing) to its webhook
reaching the sink.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import quantile
from contracts import CloudEvent
from contracts.topics import CASE_RECEIVED
from contracts.wire import encode
from devkit.testing import auth_headers
from tests.faults.system import DEMO_HISTORY, System

CLIENT_DEADLINE = 240.0  # seconds a client keeps trying to get one case accepted
ROUTING_ACTIONS = {"assigned", "escalated"}
PENDING_DELIVERY = {"queued", "sending"}


def _texts() -> list[tuple[str, str, str]]:
    with DEMO_HISTORY.open(newline="", encoding="utf-8") as f:
        return [(r["title"], r["description"], r["priority"]) for r in csv.DictReader(f)]


@dataclass
class Sent:
    """One case the load sent and what became of it at the client."""

    index: int
    channel: str  # http | kafka | poison
    key: str
    accepted: bool = False
    case_id: str | None = None
    attempts: int = 0


@dataclass
class Load:
    """See the module docstring."""

    system: System
    cases: int
    seconds: float
    poison_every: int = 0
    kafka: bool = True  # False: every case over HTTP (the broker is down)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    sent: list[Sent] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    _thread: threading.Thread | None = None
    _done: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._main, name="load", daemon=True)
        self._thread.start()
        return self

    def wait(self, within: float = CLIENT_DEADLINE + 120) -> None:
        """Until every case was sent and each client accepted or gave up."""
        assert self._thread is not None
        self._thread.join(within)
        if self._thread.is_alive():
            raise TimeoutError("the load did not finish")
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._stream())
        except BaseException as exc:  # reported by wait()
            self._error = exc

    async def _stream(self) -> None:
        texts = _texts()
        producer: AIOKafkaProducer | None = None
        if self.kafka:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.system.broker.bootstrap_servers,
                acks="all",
                request_timeout_ms=5000,
                retry_backoff_ms=200,
            )
            await producer.start()
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        tasks: list[asyncio.Task[None]] = []
        async with httpx.AsyncClient(
            timeout=15, limits=limits, headers=auth_headers("reporter")
        ) as http:
            begin = time.monotonic()
            kafka_n = 0
            for i in range(self.cases):
                due = begin + i * self.seconds / self.cases
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                title, description, priority = texts[i % len(texts)]
                if i % 2 == 0 or not self.kafka:
                    sent = Sent(i, "http", f"faults-{self.run}-{i}")
                    self.sent.append(sent)
                    body = {
                        "title": title,
                        "description": description,
                        "priority": priority,
                        "reporter": {"email": f"client{i}@example.com"},
                    }
                    tasks.append(asyncio.create_task(self._post(http, sent, body)))
                    continue
                assert producer is not None
                kafka_n += 1
                poison = bool(self.poison_every) and kafka_n % self.poison_every == 0
                sent = Sent(i, "poison" if poison else "kafka", f"FLT-{self.run}-{i}")
                self.sent.append(sent)
                key, value, headers = (
                    _poison(sent.key, kafka_n // self.poison_every)
                    if poison
                    else _record(sent.key, title, description, priority)
                )
                produce = self._produce(producer, sent, key, value, headers)
                tasks.append(asyncio.create_task(produce))
            await asyncio.gather(*tasks)
        if producer is not None:
            await producer.stop()

    async def _post(self, http: httpx.AsyncClient, sent: Sent, body: dict[str, Any]) -> None:
        triage = self.system.triage
        deadline = time.monotonic() + CLIENT_DEADLINE
        for n in itertools.count():
            sent.attempts += 1
            inst = triage[(sent.index // 2 + n) % len(triage)]
            delay = 0.5
            try:
                r = await http.post(
                    f"{inst.url}/v1/cases", json=body, headers={"Idempotency-Key": sent.key}
                )
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1
            else:
                self.statuses[str(r.status_code)] += 1
                if r.status_code == 201:
                    sent.accepted, sent.case_id = True, r.json()["id"]
                    return
                if r.status_code < 500 and r.status_code != 429:
                    raise AssertionError(f"case {sent.key} refused: {r.status_code} {r.text}")
                if r.headers.get("retry-after", "").isdigit():
                    delay = float(r.headers["retry-after"])
            if time.monotonic() + delay > deadline:
                return
            await asyncio.sleep(delay)

    async def _produce(
        self,
        producer: AIOKafkaProducer,
        sent: Sent,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
    ) -> None:
        deadline = time.monotonic() + CLIENT_DEADLINE
        while True:
            sent.attempts += 1
            try:
                await producer.send_and_wait(
                    self.system.topics.received, value, key=key, headers=headers
                )
            except Exception as exc:
                self.statuses[f"kafka {type(exc).__name__}"] += 1
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(0.5)
                continue
            sent.accepted = True
            self.statuses["kafka acked"] += 1
            return


def _record(ref: str, title: str, description: str, priority: str) -> tuple[bytes, bytes, Any]:
    event = CloudEvent(
        type=CASE_RECEIVED,
        source="/faults/crm",
        data={
            "title": title,
            "description": description,
            "priority": priority,
            "reporter": {"name": "CRM"},
            "source": "crm",
            "external_ref": ref,
        },
    )
    rec = encode(event, ref)
    return rec.key or b"", rec.value, rec.headers


def _poison(key: str, n: int) -> tuple[bytes, bytes, Any]:
    kinds = n % 4
    if kinds == 0:
        good = encode(CloudEvent(type=CASE_RECEIVED, source="/faults", data={}), key)
        return key.encode(), b"{not json", good.headers
    if kinds == 1:
        bad = encode(CloudEvent(type=CASE_RECEIVED, source="/faults", data={"title": 7}), key)
        return key.encode(), bad.value, bad.headers
    if kinds == 2:
        other = encode(CloudEvent(type="com.example.unknown.v1", source="/faults", data={}), key)
        return key.encode(), other.value, other.headers
    return key.encode(), bytes(range(256)) * 4, [("content-type", b"application/json")]


@dataclass
class Figures:
    """What the scenario prints and asserts on."""

    scenario: str
    sent: int = 0
    accepted: int = 0
    routed: int = 0
    duplicates: int = 0
    redelivered: int = 0  # the same notification (same idempotency key) delivered again
    redelivery_causes: dict[str, int] = field(default_factory=dict)  # the router's last error
    lost: int = 0
    stuck: int = 0
    poison: int = 0
    dead_lettered: int = 0
    notifications_sent: int = 0
    notifications_failed: int = 0
    settle_seconds: float = 0.0
    delays: str = ""  # delivery delays, when the scenario measures them (`Delays.text`)
    client_statuses: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.scenario}: sent={self.sent} accepted={self.accepted} routed={self.routed} "
            f"duplicates={self.duplicates} redelivered={self.redelivered}"
            + (f" {self.redelivery_causes}" if self.redelivery_causes else "")
            + f" lost={self.lost} "
            f"stuck={self.stuck} "
            f"poison={self.poison} dead_lettered={self.dead_lettered} "
            f"notifications sent={self.notifications_sent} failed={self.notifications_failed} "
            f"settled in {self.settle_seconds:.0f}s; client saw {dict(self.client_statuses)}"
            + (f"; {self.delays}" if self.delays else "")
        )


@dataclass(frozen=True)
class Delays:
    """Delivery delays (seconds) of some notifications: `p50`, `p95`, `max` of `count`."""

    count: int
    p50: float
    p95: float
    max: float

    def text(self) -> str:
        return f"p50 {self.p50:.2f}s p95 {self.p95:.2f}s max {self.max:.2f}s of {self.count}"


def delivery_delays(
    system: System, loads: list[Load], *, squads: Collection[str] = (), exclude: bool = False
) -> Delays:
    """How long the webhooks about the cases of `loads` took to reach the sink: from the
    case's routing (the notification's `created_at`) to the first delivery the sink recorded
    as ok. Only the squads in `squads` count (or, with `exclude`, only the others). Call it
    after `settle` (which finds the ids of the Kafka cases)."""
    cases = {s.case_id for load in loads for s in load.sent if s.case_id is not None}
    first: dict[str, float] = {}
    for r in system.sink.records(channel="webhook"):
        body = r["body"]
        if r["outcome"] != "ok" or not isinstance(body, dict) or body.get("case_id") not in cases:
            continue
        if (r["squad"] in squads) == exclude:
            continue
        sent = datetime.fromisoformat(body["created_at"])
        delay = (datetime.fromisoformat(r["received_at"]) - sent).total_seconds()
        key = r["headers"].get("x-support-triage-delivery", "")
        first[key] = min(delay, first.get(key, delay))
    values = sorted(first.values())
    assert values, "no webhook of these cases reached the sink"
    return Delays(len(values), quantile(values, 0.5), quantile(values, 0.95), values[-1])


async def _pages(http: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = await http.get(url, params=params)
        r.raise_for_status()
        page = r.json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def _dead_letters(system: System, keys: set[bytes]) -> int:
    consumer = AIOKafkaConsumer(
        system.topics.deadletter,
        bootstrap_servers=system.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: set[bytes] = set()
    try:
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            found |= {r.key for recs in batch.values() for r in recs if r.key in keys}
            if found == keys:
                break
    finally:
        await consumer.stop()
    return len(found)


async def _settle(system: System, loads: list[Load], within: float, name: str) -> Figures:
    statuses: Counter[str] = Counter()
    for load in loads:
        statuses.update(load.statuses)
    fig = Figures(name, client_statuses=dict(statuses))
    all_sent = [s for load in loads for s in load.sent]
    good = [s for s in all_sent if s.channel != "poison"]
    fig.sent = len(all_sent)
    fig.poison = len(all_sent) - len(good)
    accepted = [s for s in good if s.accepted]
    fig.accepted = len(accepted)
    fig.problems += [f"client gave up on {s.key}" for s in good if not s.accepted]
    begin = time.monotonic()
    deadline = begin + within
    triage, router = system.triage[0].url, system.router[0].url
    async with httpx.AsyncClient(timeout=30, headers=auth_headers("admin")) as http:
        refs = {s.key: s for s in accepted if s.channel == "kafka"}
        # Kafka cases get their ids in triage: find them by external reference.
        while True:
            stored = await _pages(http, f"{triage}/v1/cases")
            for case in stored:
                ref = case["submission"].get("external_ref")
                if ref in refs:
                    refs[ref].case_id = case["id"]
            missing = [s for s in accepted if s.case_id is None]
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        ids = {s.case_id for s in accepted if s.case_id is not None}
        # Wait until the router has every case out of `triaged` ...
        while True:
            queue = {c["id"]: c for c in await _pages(http, f"{router}/v1/cases")}
            waiting = [i for i in ids if i not in queue or queue[i]["status"] == "triaged"]
            if not waiting or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        # ... and no notification of them queued or being sent.
        details: dict[str, dict[str, Any]] = {}
        todo = [i for i in ids if i in queue]
        sem = asyncio.Semaphore(16)

        async def detail(case_id: str) -> None:
            async with sem:
                r = await http.get(f"{router}/v1/cases/{case_id}")
                r.raise_for_status()
                details[case_id] = r.json()

        while True:
            await asyncio.gather(*(detail(i) for i in todo))
            todo = [
                i
                for i in todo
                if any(n["status"] in PENDING_DELIVERY for n in details[i]["notifications"])
            ]
            if not todo or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    fig.settle_seconds = time.monotonic() - begin
    for s in accepted:
        if s.case_id is None:
            fig.problems.append(f"{s.key}: accepted on Kafka, never stored by triage")
            continue
        d = details.get(s.case_id)
        if d is None:
            fig.problems.append(f"{s.key} ({s.case_id}): never reached the router")
            continue
        routings = [
            h for h in d["history"] if h["action"] in ROUTING_ACTIONS and h.get("by") == "router"
        ]
        if d["case"]["status"] == "triaged" or not routings:
            fig.stuck += 1
            fig.problems.append(f"{s.case_id}: status {d['case']['status']}, not routed")
        elif len(routings) > 1:
            fig.duplicates += 1
            fig.problems.append(f"{s.case_id}: routed {len(routings)} times")
        else:
            fig.routed += 1
        for n in d["notifications"]:
            if n["status"] in PENDING_DELIVERY:
                fig.stuck += 1
                fig.problems.append(f"{s.case_id}: notification {n['id']} still {n['status']}")
            elif n["status"] == "failed":
                fig.notifications_failed += 1
            else:
                fig.notifications_sent += 1
    fig.lost = fig.accepted - fig.routed - fig.duplicates - fig.stuck
    # Every squad receives each notification once (the webhook channel names its case and
    # carries the notification's id, its idempotency key, in `X-Support-Triage-Delivery`).
    ok = [
        r
        for r in system.sink.records(channel="webhook")
        if r["outcome"] == "ok" and isinstance(r["body"], dict)
    ]
    ids: dict[tuple[str, str, str], set[str]] = {}
    calls: Counter[str] = Counter()
    for r in ok:
        key = (r["squad"], r["body"].get("case_id"), r["body"].get("kind"))
        delivery = r["headers"].get("x-support-triage-delivery", "")
        ids.setdefault(key, set()).add(delivery)
        calls[delivery] += 1
    if fig.notifications_sent and not ok:
        fig.problems.append("no webhook reached the sink: nothing to count duplicates on")
        fig.duplicates += 1  # fail rather than pass on nothing
    doubled = {k: v for k, v in ids.items() if len(v) > 1}
    fig.duplicates += len(doubled)
    fig.problems += [f"{k} notified by {len(v)} notifications" for k, v in doubled.items()]
    again = {d: n for d, n in calls.items() if n > 1}
    fig.redelivered = len(again)
    # Why, as the router tells it: a row sent again keeps the error of the attempt before
    # (`timeout`: the receiver answered after the deadline; `lease expired`: the attempt's
    # process died before recording its outcome).
    views = {n["id"]: n for d in details.values() for n in d["notifications"]}
    for d, n in again.items():
        error = views.get(d, {}).get("last_error") or "no error recorded"
        cause = error.split(":", 1)[0]
        fig.redelivery_causes[cause] = fig.redelivery_causes.get(cause, 0) + 1
        fig.problems.append(f"notification {d} delivered {n} times (last error: {error})")
    poison = {s.key.encode() for s in all_sent if s.channel == "poison" and s.accepted}
    if poison:
        fig.dead_lettered = await _dead_letters(system, poison)
        if fig.dead_lettered != len(poison):
            missed = len(poison) - fig.dead_lettered
            fig.problems.append(f"{missed} poison record(s) not dead-lettered")
    return fig


def settle(system: System, loads: list[Load], name: str, within: float = 180.0) -> Figures:
    """Wait for the system to settle (at most `within` s) and count the cases of `loads`;
    see the module docstring."""
    return asyncio.run(_settle(system, loads, within, name))
