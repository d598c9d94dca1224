"""A local notification sink: see notifications arrive without Slack, Teams or a mail server.

`make run` starts it and the tests reuse it. It runs two servers on loopback:

- HTTP (default 127.0.0.1:8025) accepting `POST /slack/{squad}`, `/teams/{squad}` and
  `/hooks/{squad}`. On `/hooks/*` the `X-Support-Triage-Signature` header is verified when a
  secret is configured (`DEMO_WEBHOOK_SECRET`) and the result stored as `signature_valid`.
  `GET /notifications` lists what arrived, newest first (`?squad=`, `?channel=`, `?limit=`);
  `DELETE /notifications` forgets it all.
- SMTP (default 127.0.0.1:2525, aiosmtpd) recording each email as channel `email`, with the
  squad taken from the local part of the first recipient.

Failure modes for tests and demos: a receiving URL answers `?status=503` (with
`&retry_after=7` for a `Retry-After` header) or hangs with `?hang=1`; or configure paths with
`POST /control {"fail_paths": {"/hooks/a": 500}, "hang_paths": ["/slack/b"]}` (`GET /control`
shows the settings), or the `fail_paths`/`hang_paths` arguments of `start_sink`. For SMTP,
`{"fail_rcpts": {"nobody@example.com": 550}}` refuses a recipient with that reply code.

Run it with `python -m devkit.sink --http-port 8025 --smtp-port 2525`, or from Python:

    with start_sink(0, 0) as sink:        # 0 picks free ports
        ...                               # sink.http_url, sink.smtp_port, sink.records()
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from devkit.broker import free_port
from router.adapters.notifications.signing import SIGNATURE_HEADER, verify

log = logging.getLogger("devkit.sink")

CHANNEL_OF_PREFIX = {"hooks": "webhook", "slack": "slack", "teams": "teams"}
MAX_RECORDS = 1000
SECRET_ENV = "DEMO_WEBHOOK_SECRET"


class SinkStore:
    """Thread-safe record of everything received (HTTP and SMTP threads both write)."""

    def __init__(self, maxlen: int = MAX_RECORDS) -> None:
        self._lock = threading.Lock()
        self._items: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store a record, giving it a sequence `id` and `received_at`."""
        with self._lock:
            record = {
                "id": next(self._seq),
                "received_at": datetime.now(UTC).isoformat(),
                **record,
            }
            self._items.append(record)
        log.info(
            "notification for squad %s via %s: %s",
            record.get("squad"),
            record.get("channel"),
            record.get("title"),
        )
        return record

    def list(
        self, *, squad: str | None = None, channel: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Records, newest first, optionally filtered."""
        with self._lock:
            items = list(reversed(self._items))
        items = [
            r
            for r in items
            if (squad is None or r.get("squad") == squad)
            and (channel is None or r.get("channel") == channel)
        ]
        return items if limit is None else items[:limit]

    def clear(self) -> int:
        """Forget every record; returns how many there were."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
        return count


@dataclass
class SinkControl:
    """Failure modes: paths answering an error status, paths that never answer."""

    fail_paths: dict[str, int] = field(default_factory=dict)
    hang_paths: set[str] = field(default_factory=set)
    fail_rcpts: dict[str, int] = field(default_factory=dict)
    hang_seconds: float = 60.0
    stopping: threading.Event = field(default_factory=threading.Event)

    def update(self, body: Mapping[str, Any]) -> None:
        """Replace the settings named in `body` (a `POST /control` JSON body)."""
        if "fail_paths" in body:
            self.fail_paths = _fail_map(body["fail_paths"] or {})
        if "hang_paths" in body:
            self.hang_paths = set(body["hang_paths"] or [])
        if "fail_rcpts" in body:
            self.fail_rcpts = _fail_map(body["fail_rcpts"] or {})
        if "hang_seconds" in body:
            self.hang_seconds = float(body["hang_seconds"])

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON."""
        return {
            "fail_paths": self.fail_paths,
            "hang_paths": sorted(self.hang_paths),
            "fail_rcpts": self.fail_rcpts,
            "hang_seconds": self.hang_seconds,
        }


def _fail_map(value: Mapping[str, int] | Iterable[str]) -> dict[str, int]:
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items()}
    return {str(p): 500 for p in value}


def _title(channel: str, body: Any) -> str | None:
    try:
        if channel == "webhook":
            return body.get("title")
        if channel == "slack":
            header = next((b for b in body.get("blocks", []) if b.get("type") == "header"), None)
            return header["text"]["text"] if header else body.get("text")
        if channel == "teams":
            first = body["attachments"][0]["content"]["body"][0]
            if first.get("type") == "RichTextBlock":
                return "".join(run["text"] for run in first["inlines"])
            return first["text"]
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    return None


def create_app(store: SinkStore, control: SinkControl, *, webhook_secret: str | None) -> Starlette:
    """Build the HTTP app of the sink.

    Args:
        store: Where received calls are recorded.
        control: Failure modes.
        webhook_secret: Secret to verify `/hooks/*` signatures with; None skips verification.

    Returns:
        The Starlette app.
    """

    async def receive(request: Request) -> Response:
        prefix, squad = request.path_params["prefix"], request.path_params["squad"]
        channel = CHANNEL_OF_PREFIX.get(prefix)
        if channel is None:
            return PlainTextResponse("POST to /slack, /teams or /hooks/{squad}", 404)
        path, query = request.url.path, request.query_params
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        signature_valid = None
        if channel == "webhook" and webhook_secret:
            header = request.headers.get(SIGNATURE_HEADER, "")
            signature_valid = verify(raw, webhook_secret, header, now=int(time.time()))
        hang = query.get("hang") in ("1", "true") or path in control.hang_paths
        status = int(query.get("status") or control.fail_paths.get(path) or 200)
        store.add(
            {
                "channel": channel,
                "squad": squad,
                "path": path,
                "query": dict(query),
                "headers": dict(request.headers),
                "body": body,
                "raw": raw.decode("utf-8", "replace"),
                "title": _title(channel, body),
                "signature_valid": signature_valid,
                "outcome": "hung" if hang else ("ok" if status < 300 else "failed"),
                "status": None if hang else status,
            }
        )
        if hang:
            # Wait in a worker thread: `stopping` is set from the thread calling `stop()`.
            await asyncio.to_thread(control.stopping.wait, control.hang_seconds)
            return PlainTextResponse("hung up", status_code=504)
        if status >= 300:
            headers = {"Retry-After": query["retry_after"]} if "retry_after" in query else None
            return PlainTextResponse(f"failing on purpose: {status}", status, headers=headers)
        if channel == "slack":
            return PlainTextResponse("ok")
        if channel == "teams":
            return Response(status_code=202)
        return JSONResponse({"ok": True, "signature_valid": signature_valid})

    async def list_notifications(request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "100"))
        except ValueError:
            return JSONResponse({"detail": "limit must be an integer"}, 400)
        items = store.list(squad=q.get("squad"), channel=q.get("channel"), limit=max(limit, 0))
        return JSONResponse({"count": len(items), "notifications": items})

    async def clear_notifications(request: Request) -> Response:
        return JSONResponse({"deleted": store.clear()})

    async def get_control(request: Request) -> Response:
        return JSONResponse(control.as_dict())

    async def set_control(request: Request) -> Response:
        try:
            control.update(await request.json())
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"detail": f"invalid control body: {exc}"}, 400)
        return JSONResponse(control.as_dict())

    return Starlette(
        routes=[
            Route("/{prefix:str}/{squad:str}", receive, methods=["POST"]),
            Route("/notifications", list_notifications, methods=["GET"]),
            Route("/notifications", clear_notifications, methods=["DELETE"]),
            Route("/control", get_control, methods=["GET"]),
            Route("/control", set_control, methods=["POST"]),
        ]
    )


class _MailHandler:
    """aiosmtpd handler recording each message into the store."""

    def __init__(self, store: SinkStore, control: SinkControl) -> None:
        self._store = store
        self._control = control

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        code = self._control.fail_rcpts.get(address)
        if code is not None:
            return f"{code} recipient refused on purpose"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        rcpts = list(envelope.rcpt_tos)
        self._store.add(
            {
                "channel": "email",
                "squad": rcpts[0].split("@", 1)[0] if rcpts else None,
                "path": None,
                "headers": {k.lower(): str(v) for k, v in msg.items()},
                "body": {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": rcpts,
                    "subject": str(msg.get("Subject", "")).strip(),
                    "text": text.get_content() if text is not None else None,
                    "html": html.get_content() if html is not None else None,
                },
                "title": str(msg.get("Subject", "")).strip(),
                "signature_valid": None,
                "outcome": "ok",
                "status": 250,
            }
        )
        return "250 Message accepted for delivery"


@dataclass
class SinkHandle:
    """A running sink; `stop()` (or leaving the `with` block) shuts both servers down."""

    host: str
    http_port: int
    smtp_port: int
    store: SinkStore
    control: SinkControl
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _smtp: Controller = field(repr=False)

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP side, e.g. `http://127.0.0.1:8025`."""
        return f"http://{self.host}:{self.http_port}"

    def records(self, **filters: Any) -> list[dict[str, Any]]:
        """What arrived, newest first (same filters as `GET /notifications`)."""
        return self.store.list(**filters)

    def stop(self) -> None:
        """Stop both servers and wait for them."""
        self.control.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._smtp.stop()

    def __enter__(self) -> SinkHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sink(
    http_port: int = 8025,
    smtp_port: int = 2525,
    *,
    host: str = "127.0.0.1",
    webhook_secret: str | None = None,
    fail_paths: Mapping[str, int] | Sequence[str] = (),
    hang_paths: Iterable[str] = (),
    environ: Mapping[str, str] = os.environ,
    max_records: int = MAX_RECORDS,
) -> SinkHandle:
    """Start the sink's HTTP and SMTP servers in background threads.

    Args:
        http_port: HTTP port; 0 picks a free one.
        smtp_port: SMTP port; 0 picks a free one.
        host: Interface to listen on.
        webhook_secret: Secret verifying `/hooks/*`; None reads `DEMO_WEBHOOK_SECRET`.
        fail_paths: Paths answering an error (a list answers 500; a mapping gives the status).
        hang_paths: Paths that never answer (until the sink stops).
        environ: Where `DEMO_WEBHOOK_SECRET` is read.
        max_records: How many records it keeps (the oldest go first).

    Returns:
        The running sink.

    Raises:
        RuntimeError: The HTTP server did not start.
    """
    secret = webhook_secret if webhook_secret is not None else environ.get(SECRET_ENV) or None
    store = SinkStore(max_records)
    control = SinkControl(fail_paths=_fail_map(fail_paths), hang_paths=set(hang_paths))
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (else Nagle and
    # delayed ACKs add ~40 ms to every keep-alive request).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, http_port))
    config = uvicorn.Config(
        create_app(store, control, webhook_secret=secret),
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="devsink-http", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"dev sink HTTP server did not start on {host}:{http_port}")
        time.sleep(0.01)
    smtp = Controller(
        _MailHandler(store, control), hostname=host, port=smtp_port or free_port(host)
    )
    try:
        smtp.start()
    except BaseException:
        server.should_exit = True
        thread.join(timeout=10)
        raise
    return SinkHandle(
        host=host,
        http_port=int(sock.getsockname()[1]),
        smtp_port=int(smtp.port),
        store=store,
        control=control,
        _server=server,
        _thread=thread,
        _smtp=smtp,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the sink until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m devkit.sink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--fail-path", action="append", default=[], help="answer 500 here")
    parser.add_argument("--hang-path", action="append", default=[], help="never answer here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    sink = start_sink(
        args.http_port,
        args.smtp_port,
        host=args.host,
        fail_paths=args.fail_path,
        hang_paths=args.hang_path,
    )
    signed = "verifying /hooks signatures" if os.environ.get(SECRET_ENV) else "unsigned"
    log.info(
        "dev sink: %s/notifications (POST /slack|/teams|/hooks/{squad}, %s), smtp %s:%d",
        sink.http_url,
        signed,
        sink.host,
        sink.smtp_port,
    )
    try:
        done.wait()
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
