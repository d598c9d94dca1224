"""The whole pipeline as real processes, started once per test module (`pipeline`).

`pipeline` starts, in this order:

1. the router's dev notification sink (HTTP webhooks and SMTP) in this process, verifying
   webhook signatures with `SECRET`;
2. a copy of `demo/catalogue` whose channel URLs point at the sink;
3. a model trained by `triage train` on that catalogue and `demo/history.csv`, and that
   history imported as training labels (`triage labels import`), as `make run` does;
4. a routing policy: the packaged default with a one-second P4 acknowledgement deadline (the
   ack-timeout test uses P4; every other case is P1-P3 and keeps hours to acknowledge);
5. `triage serve` and `router serve` as subprocesses (the console scripts next to
   `sys.executable`) on free ports, each with its own SQLite file, on the session's broker
   with topic names and consumer groups unique to the module; both admit the test API keys
   and bearer JWTs signed with `JWT_SECRET`.

Acknowledgement timeouts: the served router reads the system clock and offers no way to move
it from outside. Rather than add a test-only clock endpoint to the service, the tests shorten
the deadline through the policy file (`POLICY_PATH`, the real configuration path) and drive the
real `POST /v1/admin/sweep`; the periodic sweeper is set to an hour so only the test sweeps.
The one-second wait is polled, never asserted on.

Tests carry `xdist_group("pipeline-e2e")` so `--dist loadgroup` keeps them on one worker; with
pytest 9.2 and pytest-xdist 3.8 that grouping is ignored (pytest-xdist issue #1386), so under
`-n 2` each worker starts its own pipeline: slower, still correct (no test needs another).

Processes are stopped (SIGTERM, then SIGKILL) when the module ends; the tail of each service
log is attached to the report of a failing test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx
import pytest
import yaml

from contracts import Topics
from contracts.catalogue import Catalogue, load_catalogue
from devkit.broker import LocalBroker, free_port
from devkit.sink import SinkHandle, start_sink
from devkit.testing import stop_process

ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = ROOT / "demo" / "catalogue"
DEMO_HISTORY = ROOT / "demo" / "history.csv"
DEMO_SINK_URL = "http://127.0.0.1:8025"
SECRET = "e2e-webhook-secret"
SECRET_ENV = "SUPPORT_TRIAGE_SECRET_DEMO"  # the demo catalogue names it
JWT_SECRET = "e2e-jwt-secret-of-at-least-32-bytes"
"""Both services also take bearer JWTs signed with it (`AUTH_JWT_SECRET`)."""
ACK_TEST_PRIORITY = "P4"
BIN = Path(sys.executable).parent
# Generous: on a loaded 2-core machine importing and training the demo model took ~60 s.
STARTUP_SECONDS = 180.0
LOG_TAIL = 12_000


def pytest_configure(config: pytest.Config) -> None:
    """Register `xdist_group` also when pytest-xdist is disabled (`--strict-markers`)."""
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


@dataclass
class Service:
    """A served process and its log."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, limit: int = LOG_TAIL) -> str:
        """The end of the process output."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-limit:]

    def stop(self) -> int:
        """SIGTERM, wait, SIGKILL if needed; return the exit status."""
        return stop_process(self.proc)


@dataclass
class Pipeline:
    """Everything a test needs to drive the running pipeline."""

    triage: Service
    router: Service
    sink: SinkHandle
    topics: Topics
    bootstrap: str
    catalogue: Catalogue
    triage_db: Path
    triage_env: dict[str, str] = field(default_factory=dict)
    tmp: Path = Path()
    secret: str = SECRET
    ack_priority: str = ACK_TEST_PRIORITY
    services: list[Service] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Pipeline(triage={self.triage.url}, router={self.router.url})"

    def start_triage_replica(self, name: str) -> Service:
        """Another `triage serve` on the same database, with its own model folder (a copy of
        the initial one) and no consumer, started in the background (see `wait_ready`);
        stopped with the pipeline."""
        model_dir = self.tmp / f"{name}-model"
        shutil.copytree(self.tmp / "model", model_dir, ignore=shutil.ignore_patterns("versions"))
        env = {**self.triage_env, "MODEL_DIR": str(model_dir), "CONSUMER_ENABLED": "false"}
        service = _launch("triage", free_port(), env, self.tmp, log_name=name)
        self.services.append(service)
        return service

    def wait_ready(self, service: Service) -> None:
        """Wait until `service` answers `/readyz` with 200."""
        _wait_ready([service])

    def logs(self) -> list[tuple[str, str]]:
        """(name, log tail) of every service, for failure reports."""
        return [(f"{s.name} log (tail)", s.log_tail()) for s in self.services]


def _write_catalogue(folder: Path, sink_url: str) -> Catalogue:
    """Copy the demo catalogue with every channel URL pointing at the sink."""
    folder.mkdir(parents=True)
    for src in sorted(DEMO_CATALOGUE.glob("*.yaml")):
        (folder / src.name).write_text(src.read_text().replace(DEMO_SINK_URL, sink_url))
    catalogue = load_catalogue(folder)
    urls = [
        url
        for squad in catalogue.squads.values()
        for url in (
            squad.channels.webhook_url,
            squad.channels.slack_webhook,
            squad.channels.teams_webhook,
        )
        if url
    ]
    stray = [u for u in urls if not u.startswith(sink_url)]
    assert urls and not stray, f"channel URLs not on the sink: {stray}"
    return catalogue


def _write_policy(path: Path) -> Path:
    """The packaged default policy with a one-second deadline for `ACK_TEST_PRIORITY`."""
    text = resources.files("router").joinpath("default_policy.yaml").read_text()
    policy = yaml.safe_load(text)
    policy["name"] = "e2e"
    policy["ack_deadlines"][ACK_TEST_PRIORITY] = "1s"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def _train(catalogue: Path, out: Path, log_path: Path) -> None:
    cmd = [
        str(BIN / "triage"),
        "train",
        "--catalogue",
        str(catalogue),
        "--history",
        str(DEMO_HISTORY),
        "--out",
        str(out),
    ]
    with log_path.open("wb") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"triage train failed:\n{log_path.read_text(errors='replace')}")


def _import_labels(database_url: str, log_path: Path) -> None:
    """Migrate the triage database and import the demo history as labels."""
    with log_path.open("wb") as log:
        for cmd in (
            [str(BIN / "triage"), "db", "upgrade", "--url", database_url],
            [
                str(BIN / "triage"),
                "labels",
                "import",
                str(DEMO_HISTORY),
                "--database-url",
                database_url,
            ],
        ):
            done = subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, timeout=300, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"{cmd[1:3]} failed:\n{log_path.read_text(errors='replace')}")


def _launch(
    name: str, port: int, env: dict[str, str], cwd: Path, log_name: str | None = None
) -> Service:
    """Start `<name> serve` on `port`, its output going to `<cwd>/<log_name or name>.log`."""
    log_path = cwd / f"{log_name or name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(BIN / name), "serve", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Service(
        name=log_name or name, url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path
    )


def _wait_ready(services: list[Service]) -> None:
    """Wait until every service's `/readyz` answers 200 (database and broker up)."""
    waiting = list(services)
    deadline = time.monotonic() + STARTUP_SECONDS
    while waiting:
        for service in list(waiting):
            if service.proc.poll() is not None:
                code = service.proc.returncode
                raise RuntimeError(f"{service.name} exited with {code}:\n{service.log_tail()}")
            try:
                if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200:
                    waiting.remove(service)
            except httpx.TransportError:
                pass
        if waiting and time.monotonic() > deadline:
            logs = "\n".join(f"{s.name}:\n{s.log_tail()}" for s in waiting)
            raise RuntimeError(f"not ready in {STARTUP_SECONDS:.0f}s:\n{logs}")
        time.sleep(0.2)


def _base_env() -> dict[str, str]:
    """The parent environment without settings the services would pick up by accident."""
    env = dict(os.environ)
    for name in ("HISTORY_PATH", "POLICY_PATH", "PUBLIC_BASE_URL", "CONSUMER_ENABLED"):
        env.pop(name, None)
    env.update({"LOG_LEVEL": "INFO", "LOG_FORMAT": "console", "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture(scope="module")
def pipeline(broker: LocalBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Sink, trained model, `triage serve` and `router serve`, ready for cases."""
    tmp = tmp_path_factory.mktemp("pipeline")
    tag = uuid.uuid4().hex[:8]
    topics = Topics(
        received=f"e2e-received-{tag}",
        triaged=f"e2e-triaged-{tag}",
        lifecycle=f"e2e-lifecycle-{tag}",
        deadletter=f"e2e-deadletter-{tag}",
    )
    common = {
        **_base_env(),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOPIC_TRIAGED": topics.triaged,
        "TOPIC_LIFECYCLE": topics.lifecycle,
        "TOPIC_DEADLETTER": topics.deadletter,
        "AUTH_JWT_SECRET": JWT_SECRET,
    }
    services: list[Service] = []
    sink = start_sink(0, 0, webhook_secret=SECRET)
    try:
        catalogue_dir = tmp / "catalogue"
        catalogue = _write_catalogue(catalogue_dir, sink.http_url)
        _train(catalogue_dir, tmp / "model", tmp / "train.log")
        triage_db = tmp / "triage.db"
        _import_labels(f"sqlite:///{triage_db}", tmp / "labels.log")
        triage_env = {
            **common,
            "DATABASE_URL": f"sqlite:///{triage_db}",
            "KAFKA_CONSUMER_GROUP": f"e2e-triage-{tag}",
            "TOPIC_RECEIVED": topics.received,
            "CATALOGUE_PATH": str(catalogue_dir),
            "MODEL_DIR": str(tmp / "model"),
            "MODEL_POLL_SECONDS": "0.5",
        }
        router_port = free_port()
        router_env = {
            **common,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{router_port}",
            "DATABASE_URL": f"sqlite:///{tmp / 'router.db'}",
            "KAFKA_CONSUMER_GROUP": f"e2e-router-{tag}",
            "CATALOGUE_PATH": str(catalogue_dir),
            "POLICY_PATH": str(_write_policy(tmp / "policy.yaml")),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.smtp_port),
            SECRET_ENV: SECRET,
            "SWEEP_INTERVAL_SECONDS": "3600",
            "DELIVERY_BACKOFF_BASE_SECONDS": "0.2",
        }
        triage = _launch("triage", free_port(), triage_env, tmp)
        services.append(triage)
        router = _launch("router", router_port, router_env, tmp)
        services.append(router)
        _wait_ready(services)
        yield Pipeline(
            triage=triage,
            router=router,
            sink=sink,
            topics=topics,
            bootstrap=broker.bootstrap_servers,
            catalogue=catalogue,
            triage_db=triage_db,
            triage_env=triage_env,
            tmp=tmp,
            services=services,
        )
    finally:
        codes = {s.name: s.stop() for s in reversed(services)}
        sink.stop()
    # uvicorn re-raises SIGTERM after its graceful shutdown: -SIGTERM is a clean stop too.
    unclean = {n: c for n, c in codes.items() if c not in (0, -signal.SIGTERM)}
    assert not unclean, "unclean shutdown " + "\n".join(
        f"{s.name} ({codes[s.name]}):\n{s.log_tail()}" for s in services if s.name in unclean
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the service logs to the report of a test that failed while they ran."""
    report: pytest.TestReport = yield
    running = getattr(item, "funcargs", {}).get("pipeline")
    if report.failed and isinstance(running, Pipeline):
        for title, text in running.logs():
            report.sections.append((title, text))
    return report
