"""`make run`: the whole system on its embedded default, in one terminal.

Starts, in order: a local Kafka-protocol broker on 127.0.0.1:9092 (unless
`KAFKA_BOOTSTRAP_SERVERS` points at a cluster), the local notification sink (webhooks on
127.0.0.1:8025, SMTP on 127.0.0.1:2525), trains the initial model (from `HISTORY_PATH`, by
default the synthetic demo history, or from the catalogue alone), imports that history as
training labels (`triage labels import`: retrains learn from it and judge their challenger on
its most recent cases), then the triage API on
127.0.0.1:8000 and the router API on 127.0.0.1:8001, each with its SQLite file under
`.state/`. Ctrl-C stops every process it started.

Stopping: SIGINT (Ctrl-C), SIGTERM and SIGHUP stop every process it started, in order. The
handlers are installed explicitly, because a shell that is not interactive starts a
background job (`setsid make run &`) with SIGINT ignored, and Python keeps it ignored. The
children run in sessions of their own (a Ctrl-C reaches this runner only, which stops them in
order) and, on Linux, die with it (`devkit.process`): a `kill -9` of this runner, or of the
`make` that runs it, leaves no broker, sink or service holding the ports.

Environment: `CATALOGUE_PATH` (a catalogue file or folder; default demo/catalogue),
`HISTORY_PATH` (a CSV with title,description,squad), `KAFKA_BOOTSTRAP_SERVERS`,
`STATE_DIR` (default .state), `TRIAGE_PORT`, `ROUTER_PORT`, `SINK_PORT`, `SINK_SMTP_PORT`,
`BROKER_PORT` (the local broker's; default 9092), `TRIAGE_DATABASE_URL`,
`ROUTER_DATABASE_URL` (instead of the SQLite files), `DEMO_WEBHOOK_SECRET`,
`ADMIN_API_KEY`, `TRIAGER_API_KEY`, `REPORTER_API_KEY` (the API keys of the three roles;
each one not set is generated once, kept in `STATE_DIR/api-keys.json` (mode 0600) so a
restart keeps it, and printed at start as `export` lines to paste into another terminal).

The state remembers the catalogue it was made with (`STATE_DIR/catalogue.json`). Pointed at
another catalogue, `make run` starts clean: it moves the SQLite files and the model to
`STATE_DIR/previous/<time>/` (nothing is deleted) and says so. The same catalogue with edited
files keeps the state, with a note; so do databases of your own (`*_DATABASE_URL`), which this
script never touches.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from contracts.catalogue import CatalogueError, load_catalogue
from devkit.broker import LocalBroker, port_open
from devkit.process import die_with_parent, follow_parent

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO_CATALOGUE = ROOT / "demo" / "catalogue"
DEMO_HISTORY = ROOT / "demo" / "history.csv"


MARKER = "catalogue.json"
STATE_FILES = tuple(f"{db}.db{end}" for db in ("triage", "router") for end in ("", "-wal", "-shm"))
STATE_FILES += ("model",)


def prepare_state(
    state: Path, catalogue: Path, digest: str, *, own_databases: bool, now: datetime | None = None
) -> str:
    """Make `state` belong to `catalogue`; return what to tell the user ("" when nothing).

    Another catalogue than the one the state was made with moves the state aside (under
    `state/previous/`) so the run starts clean, unless the databases are the user's own.
    """
    marker = state / MARKER
    before: dict[str, str] = {}
    if marker.exists():
        with contextlib.suppress(ValueError, OSError):
            before = json.loads(marker.read_text(encoding="utf-8"))
    note = ""
    if before and before.get("path") != str(catalogue):
        was = before.get("path", "?")
        if own_databases:
            note = (
                f"the state was made with the catalogue {was}; TRIAGE_DATABASE_URL/"
                "ROUTER_DATABASE_URL are yours, so their cases stay as they are"
            )
        else:
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
            aside = state / "previous" / stamp
            moved = [n for n in STATE_FILES if (state / n).exists()]
            if moved:
                aside.mkdir(parents=True, exist_ok=True)
                for name in moved:
                    shutil.move(str(state / name), str(aside / name))
                note = (
                    f"the state was made with the catalogue {was}: starting clean; the "
                    f"previous cases and model are kept in {aside}"
                )
    elif not before and any((state / n).exists() for n in ("triage.db", "router.db")):
        note = (
            f"keeping the cases in {state}, made before it recorded its catalogue (remove "
            "that folder, or set STATE_DIR, to start clean)"
        )
    elif before and before.get("digest") != digest:
        note = (
            f"the catalogue files changed since the last run: keeping the cases in {state} "
            "(remove that folder, or set STATE_DIR, to start clean)"
        )
    state.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"path": str(catalogue), "digest": digest}), encoding="utf-8")
    return note


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _terminate(signum: int, _frame: object) -> None:
    # Stop everything we started, as Ctrl-C does; a second signal (make forwards Ctrl-C and
    # dies, which sends the parent-death SIGTERM too) must not interrupt that cleanup.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def install_stop_handlers() -> None:
    """Stop on SIGINT, SIGTERM and SIGHUP, whatever the parent left them set to (a
    non-interactive shell starts background jobs with SIGINT ignored), and when the parent
    dies (Linux)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _terminate)
    follow_parent(signal.SIGTERM)


ROLES = ("admin", "triager", "reporter")
KEYS_FILE = "api-keys.json"


def api_keys(state: Path, environ: dict[str, str]) -> dict[str, str]:
    """The API key of each role (`ADMIN_API_KEY`, ...): from the environment, else the one
    kept in `state/api-keys.json`, else a new one (written there, readable by the owner only).
    """
    path = state / KEYS_FILE
    kept: dict[str, str] = {}
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            kept = {k: v for k, v in loaded.items() if isinstance(v, str)}
    keys = {}
    for role in ROLES:
        var = f"{role.upper()}_API_KEY"
        keys[var] = environ.get(var) or kept.get(var) or secrets.token_urlsafe(32)
    generated = {k: v for k, v in keys.items() if not environ.get(k)}
    if generated != {k: v for k, v in kept.items() if k in generated}:
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps({**kept, **generated}, indent=2), encoding="utf-8")
    return keys


def main() -> int:
    install_stop_handlers()
    state = Path(os.environ.get("STATE_DIR", ROOT / ".state")).resolve()
    state.mkdir(parents=True, exist_ok=True)
    catalogue = Path(os.environ.get("CATALOGUE_PATH", DEMO_CATALOGUE)).resolve()
    history_env = os.environ.get("HISTORY_PATH")
    history = Path(history_env).resolve() if history_env else None
    if history is None and catalogue == DEMO_CATALOGUE.resolve():
        history = DEMO_HISTORY
    try:
        digest = load_catalogue(
            catalogue, service_delivery_group=os.environ.get("SERVICE_DELIVERY_GROUP")
        ).digest
    except CatalogueError as exc:
        print(exc)
        return 1
    own = bool(os.environ.get("TRIAGE_DATABASE_URL") or os.environ.get("ROUTER_DATABASE_URL"))
    note = prepare_state(state, catalogue, digest, own_databases=own)
    if note:
        print(note)
    triage_port = int(os.environ.get("TRIAGE_PORT", "8000"))
    router_port = int(os.environ.get("ROUTER_PORT", "8001"))
    sink_port = int(os.environ.get("SINK_PORT", "8025"))
    smtp_port = int(os.environ.get("SINK_SMTP_PORT", "2525"))
    broker_port = int(os.environ.get("BROKER_PORT", "9092"))
    ports = [
        ("triage", triage_port),
        ("router", router_port),
        ("sink", sink_port),
        ("smtp", smtp_port),
    ]
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        ports.append(("broker", broker_port))
    for name, port in ports:
        if port_open("127.0.0.1", port):
            print(f"port {port} ({name}) is already in use; stop what runs there first.")
            return 1

    broker: LocalBroker | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = LocalBroker(port=broker_port, log_file=state / "broker.log", follow_parent=True)
        print(f"starting the local Kafka-protocol broker on 127.0.0.1:{broker_port} ...")
        broker.start()
        bootstrap = broker.bootstrap_servers

    keys = api_keys(state, dict(os.environ))
    env = {
        **os.environ,
        **keys,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CATALOGUE_PATH": str(catalogue),
        "MODEL_DIR": str(state / "model"),
        "DEMO_WEBHOOK_SECRET": os.environ.get("DEMO_WEBHOOK_SECRET", "demo-secret"),
        # the demo catalogue's squads sign with it (webhook secrets are SUPPORT_TRIAGE_SECRET_*)
        "SUPPORT_TRIAGE_SECRET_DEMO": os.environ.get("DEMO_WEBHOOK_SECRET", "demo-secret"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{router_port}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
    }
    children: list[subprocess.Popen[bytes]] = []
    try:
        train = [
            str(BIN / "triage"),
            "train",
            "--catalogue",
            str(catalogue),
            "--out",
            str(state / "model"),
        ]
        if history is not None:
            train += ["--history", str(history)]
        print(
            "training the initial model:",
            "from " + str(history) if history else "from the catalogue alone",
        )
        subprocess.run(train, env=env, check=True, preexec_fn=die_with_parent())
        triage_db = os.environ.get("TRIAGE_DATABASE_URL", f"sqlite:///{state / 'triage.db'}")
        if history is not None:
            # the history is also the first labels, so a retrain learns from it and holds
            # out its most recent cases to judge the challenger (importing twice adds nothing)
            print("importing the history as training labels:", history)
            subprocess.run(
                [str(BIN / "triage"), "db", "upgrade", "--url", triage_db],
                env=env,
                check=True,
                preexec_fn=die_with_parent(),
            )
            subprocess.run(
                [
                    str(BIN / "triage"),
                    "labels",
                    "import",
                    str(history),
                    "--database-url",
                    triage_db,
                ],
                env=env,
                check=True,
                preexec_fn=die_with_parent(),
            )

        def start(*args: str, **extra: str) -> None:
            # Own session: Ctrl-C reaches this runner only, which then stops the children;
            # they die with this runner if it is killed (`devkit.process`).
            children.append(
                subprocess.Popen(
                    list(args),
                    env={**env, **extra},
                    cwd=ROOT,
                    start_new_session=True,
                    preexec_fn=die_with_parent(),
                )
            )

        start(
            str(BIN / "python"),
            "-m",
            "devkit.sink",
            "--http-port",
            str(sink_port),
            "--smtp-port",
            str(smtp_port),
        )
        start(
            str(BIN / "triage"),
            "serve",
            "--port",
            str(triage_port),
            DATABASE_URL=triage_db,
        )
        start(
            str(BIN / "router"),
            "serve",
            "--port",
            str(router_port),
            DATABASE_URL=os.environ.get("ROUTER_DATABASE_URL", f"sqlite:///{state / 'router.db'}"),
        )
        wait_ready(f"http://127.0.0.1:{triage_port}/healthz", children)
        wait_ready(f"http://127.0.0.1:{router_port}/healthz", children)
        exports = "\n".join(f"  export {k}={v}" for k, v in keys.items())
        print(
            BANNER.format(
                t=triage_port,
                r=router_port,
                s=sink_port,
                bootstrap=bootstrap,
                state=state,
                exports=exports,
            ),
            flush=True,
        )
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        failed = [c for c in children if c.poll() is not None]
        print(f"a process exited ({failed[0].args[0]}, code {failed[0].returncode}); stopping")
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"{exc.cmd[0]} failed with exit code {exc.returncode}")
        return 1
    finally:
        stop(children)
        if broker is not None:
            broker.stop()


def wait_ready(url: str, children: list[subprocess.Popen[bytes]], within: float = 90) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise SystemExit(f"a process exited before {url} answered")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {within}s")


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


BANNER = """
support-triage is running (Ctrl-C stops everything)

  triage API   http://127.0.0.1:{t}   Swagger UI: http://127.0.0.1:{t}/docs
  router API   http://127.0.0.1:{r}   Swagger UI: http://127.0.0.1:{r}/docs
  sink         http://127.0.0.1:{s}/notifications  (notifications the squads received)
  Kafka        {bootstrap}
  state        {state}  (remove it, or set STATE_DIR, to start clean)

API keys (Swagger UI: Authorize, X-API-Key; kept in {state}/api-keys.json):
{exports}

Try (after the export lines above):
  curl -s -X POST http://127.0.0.1:{t}/v1/cases -H "X-API-Key: $REPORTER_API_KEY" \\
    -H 'content-type: application/json' -d \\
    '{{"title": "Card payment declined at checkout",
      "description": "Every card fails on checkout-api since 10:05",
      "reporter": {{"email": "ada@example.com"}}}}'
"""

if __name__ == "__main__":
    sys.exit(main())
