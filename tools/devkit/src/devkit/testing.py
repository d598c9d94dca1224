"""Helpers the tests and the benchmarks share: stopping a child process, a throwaway database.

Neither is used by the services themselves; they live here so `tests/` and `bench/` (which
both import servicekit already, for `LocalBroker`) run children and databases the same way.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def stop_process(proc: subprocess.Popen[bytes], *, grace: float = 20.0) -> int:
    """SIGTERM `proc` if it still runs, SIGKILL it after `grace` seconds.

    Args:
        proc: The child, started by the caller.
        grace: Seconds to wait after SIGTERM before SIGKILL.

    Returns:
        Its exit status (negative for a signal, as `Popen.returncode`).
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


@contextlib.contextmanager
def scratch_database(base_url: str, *, prefix: str, suffix_len: int = 12) -> Iterator[str]:
    """A new Postgres database on the server of `base_url`, dropped (with force) at the end.

    Args:
        base_url: Any database URL on the server (`TEST_DATABASE_URL`); it is used to connect
            for CREATE and DROP DATABASE.
        prefix: The start of the new database's name; a random hex suffix follows `_`.
        suffix_len: How many hex digits the suffix has.

    Yields:
        The URL of the new database (password kept).
    """
    url = make_url(base_url)
    name = f"{prefix}_{uuid.uuid4().hex[:suffix_len]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


#: The API keys of the test runs, one per role (`tests/conftest.py` puts them in the
#: environment, where both services' settings and their child processes read them).
TEST_KEYS = {
    "admin": "test-admin-key-0000000000000000",
    "triager": "test-triager-key-00000000000000",
    "reporter": "test-reporter-key-0000000000000",
}
KEY_ENV = {f"{role.upper()}_API_KEY": key for role, key in TEST_KEYS.items()}


def auth_headers(role: str = "admin") -> dict[str, str]:
    """The header that authenticates as `role` with its test key."""
    return {"X-API-Key": TEST_KEYS[role]}
