"""`make run` as a user starts it: its processes stop on SIGINT even when started in the
background by a script (SIGINT inherited as ignored), and die with it on `kill -9`.

The runner (`python -m scripts.run_local`) starts on free ports with its own state folder and
a copy of the demo catalogue (so the model is trained from the catalogue alone, quickly).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.broker import free_port, port_open

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120.0
GONE_SECONDS = 30.0


@dataclass
class Runner:
    proc: subprocess.Popen[bytes]
    log: Path
    ports: list[int]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _ignore_sigint_in_new_session() -> None:
    # What `setsid make run &` from a non-interactive shell gives the runner.
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    if not sys.platform.startswith("linux"):
        pytest.skip("children die with the runner on Linux only (prctl)")
    catalogue = tmp_path / "catalogue"
    shutil.copytree(ROOT / "demo" / "catalogue", catalogue)
    ports = [free_port() for _ in range(5)]
    env = {
        **os.environ,
        "STATE_DIR": str(tmp_path / "state"),
        "CATALOGUE_PATH": str(catalogue),
        "TRIAGE_PORT": str(ports[0]),
        "ROUTER_PORT": str(ports[1]),
        "SINK_PORT": str(ports[2]),
        "SINK_SMTP_PORT": str(ports[3]),
        "BROKER_PORT": str(ports[4]),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "HISTORY_PATH", "TRIAGE_DATABASE_URL"):
        env.pop(name, None)
    env.pop("ROUTER_DATABASE_URL", None)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.run_local"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_ignore_sigint_in_new_session,
        )
    run = Runner(proc, log, ports)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "support-triage is running" not in run.output():
            assert proc.poll() is None, run.output()
            assert time.monotonic() < deadline, run.output()
            time.sleep(0.3)
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def _wait_gone(pids: list[int], ports: list[int]) -> tuple[list[int], list[int]]:
    deadline = time.monotonic() + GONE_SECONDS
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        held = [p for p in ports if port_open("127.0.0.1", p)]
        if not left and not held:
            break
        time.sleep(0.2)
    return [p for p in pids if _alive(p)], [p for p in ports if port_open("127.0.0.1", p)]


def test_sigint_stops_everything_even_when_inherited_as_ignored(runner: Runner) -> None:
    children = _children(runner.proc.pid)
    assert len(children) == 4, children  # broker, sink, triage, router
    runner.proc.send_signal(signal.SIGINT)
    assert runner.proc.wait(timeout=60) == 0, runner.output()
    assert "stopping" in runner.output()
    assert _wait_gone(children, runner.ports) == ([], [])


def test_kill_9_of_the_runner_takes_its_children_with_it(runner: Runner) -> None:
    children = _children(runner.proc.pid)
    assert len(children) == 4, children
    runner.proc.kill()
    runner.proc.wait(timeout=10)
    assert _wait_gone(children, runner.ports) == ([], [])
