"""Faults while cases flow: nothing accepted is lost or routed twice, nothing is left stuck.

Each scenario starts a fresh system (`System`), streams `FAULT_CASES` cases into it over HTTP
and Kafka (`Load`), injects one fault while they flow, removes it, waits for the system to
settle and checks from outside (`settle`): every accepted case routed exactly once, no squad
notified twice of the same thing, no case or notification left in a state nothing moves it
from. The fault is timed against the stream (seconds after it starts); the checks are not
timed (settling may take as long as it needs, up to a generous limit).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.load import Figures, Load, delivery_delays, settle
from tests.faults.system import System

CASES = int(os.environ.get("FAULT_CASES", "300"))
DATABASE = os.environ.get("TEST_DATABASE_URL")


@pytest.fixture
def make_system(tmp_path: Path, model: Path) -> Iterator[Callable[..., System]]:
    systems: list[System] = []

    def make(**kwargs: object) -> System:
        system = System(tmp_path / f"system{len(systems)}", model, database_url=DATABASE, **kwargs)  # type: ignore[arg-type]
        system.tmp.mkdir()
        systems.append(system)
        return system.start()

    yield make
    for system in systems:
        system.stop()


def _check(fig: Figures, system: System, figures: list[Figures], *, killed: bool = False) -> None:
    figures.append(fig)
    print(fig.line())
    assert fig.accepted == fig.sent - fig.poison, fig.problems[:20]
    assert (fig.lost, fig.duplicates, fig.stuck) == (0, 0, 0), (
        "\n".join(fig.problems[:30]) + "\n" + system.logs()
    )
    assert fig.routed == fig.accepted
    # A redelivery (the same notification, the same idempotency key, which a receiver can
    # dedupe on) is inherent to at-least-once only where the router cannot know the first
    # attempt arrived: it gave up waiting for the answer (`timeout`), or, when a process is
    # killed, the attempt never recorded its outcome and the lease expired. Those are
    # reported; any other (a lost outcome, two claims of one row) fails.
    inherent = {"timeout", "lease expired"} if killed else {"timeout"}
    unexplained = {c: n for c, n in fig.redelivery_causes.items() if c not in inherent}
    assert not unexplained, "\n".join(p for p in fig.problems if "delivered" in p)


def test_broker_frozen(make_system: Callable[..., System], figures: list[Figures]) -> None:
    system = make_system()
    load = Load(system, CASES, seconds=40).start()
    time.sleep(8)
    system.freeze_broker()
    time.sleep(15)
    system.thaw_broker()
    load.wait()
    _check(settle(system, [load], "broker frozen 15 s (SIGSTOP)"), system, figures)


def test_broker_restarted(make_system: Callable[..., System], figures: list[Figures]) -> None:
    """The memory broker loses every topic and offset; the services recreate the topics and
    go on. HTTP intake keeps accepting while it is down (the outbox holds the events).

    The restart comes in a quiet moment, when everything sent before is routed: records the
    broker acknowledged and nobody consumed yet would be lost with its memory, which says
    nothing about the services (a real Kafka cluster keeps them on disk and on replicas)."""
    system = make_system()
    before = Load(system, CASES // 3, seconds=12).start()
    before.wait()
    settle(system, [before], "before the restart")
    system.kill_broker()
    during = Load(system, CASES // 3, seconds=12, kafka=False).start()
    time.sleep(10)
    system.start_broker()
    during.wait()
    after = Load(system, CASES // 3, seconds=12).start()
    after.wait()
    fig = settle(system, [before, during, after], "broker restarted (memory lost)")
    _check(fig, system, figures)


@pytest.mark.skipif(not DATABASE, reason="needs TEST_DATABASE_URL (Postgres behind a proxy)")
def test_database_unavailable(make_system: Callable[..., System], figures: list[Figures]) -> None:
    system = make_system()
    load = Load(system, CASES, seconds=50).start()
    time.sleep(8)
    system.database_down()
    time.sleep(30)
    system.database_up()
    load.wait()
    fig = settle(system, [load], "database unavailable 30 s")
    _check(fig, system, figures)
    assert fig.client_statuses.get("503", 0) > 0, "no 503 while the database was down"
    assert "500" not in fig.client_statuses


def test_kill_9_of_each_service(make_system: Callable[..., System], figures: list[Figures]) -> None:
    system = make_system()
    load = Load(system, CASES, seconds=40).start()
    for inst in (system.triage[0], system.router[0]):
        time.sleep(8)
        inst.kill9()
        time.sleep(2)
        inst.start()
    load.wait()
    _check(settle(system, [load], "kill -9 triage, then router"), system, figures, killed=True)


def test_failing_webhook_receivers(
    make_system: Callable[..., System], figures: list[Figures]
) -> None:
    """payments' webhook answers 500, checkout's Slack hangs, financing's webhook refuses
    connections, all the time: every other notification leaves, the failing ones stop after
    `DELIVERY_MAX_ATTEMPTS` (3 here) and show as failed.

    "Leave on time" is measured against the same system before the sink starts failing (a
    third of the cases): the other squads' delivery delay (routing to the sink) must stay
    within a few times that baseline plus one delivery deadline, the wait of one attempt at
    a hanging receiver. Were deliveries queued behind the failing attempts (too few slots,
    one at a time), the other squads' notifications would wait for many such deadlines."""
    # A 2 s delivery deadline (the router's default is 5 s) so hanging attempts end sooner.
    system = make_system(refused_webhook="financing", router_env={"DELIVERY_TIMEOUT_SECONDS": "2"})
    failing_squads = {"payments", "checkout", "financing"}
    before = Load(system, CASES // 3, seconds=10).start()
    before.wait()
    settle(system, [before], "before the receivers fail")
    baseline = delivery_delays(system, [before], squads=failing_squads, exclude=True)
    seen = max(r["id"] for r in system.sink.records())
    system.sink.control.update(
        {"fail_paths": {"/hooks/payments": 500}, "hang_paths": ["/slack/checkout"]}
    )
    system.sink.control.update({"hang_seconds": 10})
    load = Load(system, CASES, seconds=30).start()
    load.wait()
    fig = settle(system, [load], "webhook receivers 500 / hang / refuse")
    healthy = delivery_delays(system, [load], squads=failing_squads, exclude=True)
    fig.delays = f"other squads' delivery delay {healthy.text()}, before {baseline.text()}"
    _check(fig, system, figures)
    assert fig.notifications_failed > 0
    failing = {("payments", "/hooks/payments"), ("checkout", "/slack/checkout")}
    ok = [
        r
        for r in system.sink.records()
        if r["id"] > seen and r["outcome"] == "ok" and (r["squad"], r["path"]) in failing
    ]
    assert ok == []
    deadline = float(system.router[0].env["DELIVERY_TIMEOUT_SECONDS"])
    assert healthy.p95 <= 3 * baseline.p95 + deadline, fig.delays


def test_poison_messages(make_system: Callable[..., System], figures: list[Figures]) -> None:
    system = make_system()
    load = Load(system, CASES, seconds=30, poison_every=5).start()
    load.wait()
    fig = settle(system, [load], "poison records in the input")
    _check(fig, system, figures)
    assert fig.poison > 0 and fig.dead_lettered == fig.poison


def test_two_instances_rebalancing(
    make_system: Callable[..., System], figures: list[Figures]
) -> None:
    system = make_system(instances=2)
    load = Load(system, CASES, seconds=40).start()
    second = (system.triage[1], system.router[1])
    time.sleep(8)
    for inst in second:
        inst.stop()  # leaves the group: its partitions move to the other instance
    time.sleep(8)
    for inst in second:
        inst.start()  # joins again: another rebalance
    load.wait()
    _check(settle(system, [load], "two instances each, rebalancing"), system, figures)
