"""`devkit.testing.stop_process`: a polite child stops on SIGTERM, a stubborn one is killed."""

from __future__ import annotations

import signal
import subprocess
import sys

from devkit.testing import stop_process

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
POLITE = "import sys, time\nprint('ready', flush=True)\ntime.sleep(60)\n"


def _start(code: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    return proc


def test_a_child_that_honours_sigterm_exits_by_it() -> None:
    proc = _start(POLITE)
    try:
        assert stop_process(proc, grace=20) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    proc = _start(STUBBORN)
    try:
        assert stop_process(proc, grace=0.5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_child_that_already_exited_keeps_its_status() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    assert stop_process(proc) == 3
