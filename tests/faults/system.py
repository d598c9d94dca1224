"""The system under fault: a Tansu broker, the notification sink, N instances of each service.

Everything is real and started here: the broker (`devkit.broker`, a process we can freeze with
SIGSTOP, kill and start again on the same port), the sink (`devkit.sink`, in this process;
it records every notification and can answer 500 or hang per path), `triage serve` and
`router serve` subprocesses on fixed ports (so a restarted instance comes back where the
clients look), and their databases: one Postgres database per service when
`TEST_DATABASE_URL` is set (reached through `TcpProxy`, which the database scenario stops),
else one SQLite file per service. Two instances of a service share its database and consumer
group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from contracts import Topics
from devkit.broker import LocalBroker, free_port
from devkit.process import die_with_parent
from devkit.sink import SinkHandle, start_sink
from devkit.testing import scratch_database, stop_process

ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = ROOT / "demo" / "catalogue"
DEMO_HISTORY = ROOT / "demo" / "history.csv"
DEMO_SINK_URL = "http://127.0.0.1:8025"
BIN = Path(sys.executable).parent
SECRET = "faults-webhook-secret"
STARTUP_SECONDS = 90.0


class TcpProxy:
    """A TCP forwarder to `target`; `stop()` closes the port and every connection through
    it (the database is gone), `start()` opens the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@dataclass
class Instance:
    """One `triage serve` or `router serve` process on its fixed port."""

    name: str
    port: int
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service(self) -> str:
        return self.name.split("-")[0]

    @property
    def log_path(self) -> Path:
        return self.cwd / f"{self.name}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [str(BIN / self.service), "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, grace: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        return stop_process(self.proc, grace=grace)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, limit: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-limit:]


def train_model(out: Path) -> Path:
    """`triage train` on the demo catalogue and history (once per session)."""
    cmd = [
        str(BIN / "triage"),
        "train",
        "--catalogue",
        str(DEMO_CATALOGUE),
        "--history",
        str(DEMO_HISTORY),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"triage train failed:\n{done.stdout.decode()}{done.stderr.decode()}")
    return out


@dataclass
class System:
    """Broker, sink and services of one scenario; `start()`, then `stop()`."""

    tmp: Path
    model: Path
    instances: int = 1
    database_url: str | None = None  # a Postgres server to make two databases on
    refused_webhook: str | None = None  # a squad whose webhook URL refuses connections
    router_env: dict[str, str] = field(default_factory=dict)
    broker: LocalBroker = field(init=False)
    sink: SinkHandle = field(init=False)
    topics: Topics = field(init=False)
    proxy: TcpProxy | None = None
    triage: list[Instance] = field(default_factory=list)
    router: list[Instance] = field(default_factory=list)
    _databases: list[contextlib.AbstractContextManager[str]] = field(default_factory=list)

    def start(self) -> System:
        self.broker = LocalBroker(log_file=self.tmp / "broker.log", follow_parent=True).start()
        self.sink = start_sink(0, 0, webhook_secret=SECRET, max_records=200_000)
        self.topics = Topics(
            received="faults-received",
            triaged="faults-triaged",
            lifecycle="faults-lifecycle",
            deadletter="faults-deadletter",
        )
        catalogue = self._catalogue()
        model = self.tmp / "model"
        shutil.copytree(self.model, model)
        urls = self._database_urls()
        common = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TOPIC_", "KAFKA_"))},
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "TOPIC_RECEIVED": self.topics.received,
            "TOPIC_TRIAGED": self.topics.triaged,
            "TOPIC_LIFECYCLE": self.topics.lifecycle,
            "TOPIC_DEADLETTER": self.topics.deadletter,
            "CATALOGUE_PATH": str(catalogue),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("HISTORY_PATH", "POLICY_PATH", "PUBLIC_BASE_URL", "CONSUMER_ENABLED"):
            common.pop(name, None)
        triage_env = {
            **common,
            "DATABASE_URL": urls[0],
            "KAFKA_CONSUMER_GROUP": "faults-triage",
            "MODEL_DIR": str(model),
        }
        router_env = {
            **common,
            "DATABASE_URL": urls[1],
            "KAFKA_CONSUMER_GROUP": "faults-router",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.sink.smtp_port),
            "SUPPORT_TRIAGE_SECRET_DEMO": SECRET,  # the demo catalogue's squads sign with it
            "SWEEP_INTERVAL_SECONDS": "3600",
            "DELIVERY_BACKOFF_BASE_SECONDS": "0.2",
            "DELIVERY_MAX_ATTEMPTS": "3",
            **self.router_env,
        }
        for n in range(self.instances):
            self.triage.append(Instance(f"triage-{n}", free_port(), triage_env, self.tmp))
            router_port = free_port()
            env = {**router_env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{router_port}"}
            self.router.append(Instance(f"router-{n}", router_port, env, self.tmp))
        # One instance first: it creates the tables; the others start on them.
        for group in ([self.triage[0], self.router[0]], self.triage[1:] + self.router[1:]):
            for inst in group:
                inst.start()
            self.wait_ready(group)
        return self

    def _catalogue(self) -> Path:
        folder = self.tmp / "catalogue"
        folder.mkdir()
        refused = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        for src in sorted(DEMO_CATALOGUE.glob("*.yaml")):
            text = src.read_text().replace(DEMO_SINK_URL, self.sink.http_url)
            if self.refused_webhook:
                text = text.replace(
                    f"{self.sink.http_url}/hooks/{self.refused_webhook}",
                    f"{refused}/hooks/{self.refused_webhook}",
                )
            (folder / src.name).write_text(text)
        return folder

    def _database_urls(self) -> list[str]:
        if self.database_url is None:
            return [f"sqlite:///{self.tmp / 'triage.db'}", f"sqlite:///{self.tmp / 'router.db'}"]
        server = make_url(self.database_url)
        self.proxy = TcpProxy((server.host or "127.0.0.1", server.port or 5432))
        self.proxy.start()
        urls = []
        for prefix in ("faults_triage", "faults_router"):
            cm = scratch_database(self.database_url, prefix=prefix)
            url = make_url(cm.__enter__())
            self._databases.append(cm)
            urls.append(
                url.set(host="127.0.0.1", port=self.proxy.port).render_as_string(
                    hide_password=False
                )
            )
        return urls

    def wait_ready(self, instances: list[Instance], within: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + within
        waiting = list(instances)
        while waiting:
            for inst in list(waiting):
                if inst.proc is not None and inst.proc.poll() is not None:
                    raise RuntimeError(f"{inst.name} exited:\n{inst.log_tail()}")
                if inst.ready():
                    waiting.remove(inst)
            if waiting and time.monotonic() > deadline:
                tails = "\n".join(f"{i.name}:\n{i.log_tail()}" for i in waiting)
                raise RuntimeError(f"not ready within {within:.0f}s:\n{tails}")
            time.sleep(0.3)

    # -- faults -------------------------------------------------------------------------

    def freeze_broker(self) -> None:
        assert self.broker.process is not None
        os.kill(self.broker.process.pid, signal.SIGSTOP)

    def thaw_broker(self) -> None:
        assert self.broker.process is not None
        os.kill(self.broker.process.pid, signal.SIGCONT)

    def kill_broker(self) -> None:
        assert self.broker.process is not None
        self.broker.process.kill()
        self.broker.process.wait()

    def start_broker(self) -> None:
        port = self.broker.port
        deadline = time.monotonic() + 30
        while True:  # the killed broker's port may take a moment to be free again
            try:
                self.broker = LocalBroker(
                    port=port, log_file=self.tmp / "broker.log", follow_parent=True
                ).start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def database_down(self) -> None:
        assert self.proxy is not None
        self.proxy.stop()

    def database_up(self) -> None:
        assert self.proxy is not None
        self.proxy.start()

    # -- the end ------------------------------------------------------------------------

    def logs(self) -> str:
        return "\n".join(f"--- {i.name}\n{i.log_tail()}" for i in self.triage + self.router)

    def stop(self) -> dict[str, int | None]:
        """Stop whatever started (`start()` may have failed part way)."""
        codes = {i.name: i.stop() for i in self.router + self.triage}
        if hasattr(self, "sink"):
            self.sink.stop()
        if hasattr(self, "broker"):
            self.broker.stop()
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy.start()  # dropping the databases goes to the server directly
            self.proxy.stop()
        for cm in self._databases:
            cm.__exit__(None, None, None)
        return codes
