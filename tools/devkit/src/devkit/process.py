"""Children that die with the process that started them.

`make run` (and a test harness) starts a broker, a sink and the services in sessions of their
own, so a Ctrl-C reaches the runner only and the runner stops them in order. A runner killed
with SIGKILL cannot stop anything, though: on Linux each child asks the kernel, between fork
and exec, for SIGTERM when its parent dies (`prctl(PR_SET_PDEATHSIG)`), and checks that the
parent did not die before it asked. Elsewhere `die_with_parent` is `None` and the children
outlive a killed runner, as before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def _pdeathsig(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec
        if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:  # pragma: no cover
            os._exit(1)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen`: SIGTERM the child when this process dies
    (Linux), or None where the kernel offers no such request."""
    return _pdeathsig()


def follow_parent(sig: int = signal.SIGTERM) -> None:
    """Ask for `sig` when this process's parent dies (Linux; nothing elsewhere).

    `make run` calls it so that killing `make` stops the runner, which stops its children.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent:  # pragma: no cover - the parent died in between
        os.kill(os.getpid(), sig)
