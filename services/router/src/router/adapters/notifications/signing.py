"""HMAC-SHA256 signatures of generic webhook deliveries.

Every generic webhook POST carries three headers:

    X-Support-Triage-Signature: t=<unix seconds>,v1=<hex signature>
    X-Support-Triage-Event:     <kind>              (assigned, escalated, swarm_opened, ...)
    X-Support-Triage-Delivery:  <notification id>   (idempotency key: drop repeats)

where `<hex signature>` is `hex(hmac_sha256(secret, f"{t}." + raw_body))`: the timestamp as
ASCII digits, a dot, then the exact bytes of the request body. The secret is the value of the
environment variable named by the squad's `support-triage/webhook-secret-env` annotation.

To verify, a receiver recomputes the signature over the raw body (before parsing JSON),
compares it in constant time with every `v1=` value (several may appear while a secret is
rotated), and rejects timestamps more than five minutes from its clock to stop replays.
In Python:

    import hashlib, hmac, time

    def verify(body: bytes, secret: str, header: str, tolerance: int = 300) -> bool:
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        t = next((v for k, v in parts if k == "t"), "")
        if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
            return False
        mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256)
        return any(hmac.compare_digest(mac.hexdigest(), v) for k, v in parts if k == "v1")

Deliveries are retried, so a receiver sees the same `X-Support-Triage-Delivery` again after a
timeout; treat it as done if already processed.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Support-Triage-Signature"
EVENT_HEADER = "X-Support-Triage-Event"
DELIVERY_HEADER = "X-Support-Triage-Delivery"
DEFAULT_TOLERANCE = 300


def _mac(body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """Sign a webhook body.

    Args:
        body: The exact request body bytes.
        secret: The shared secret.
        timestamp: Unix seconds of the delivery attempt.

    Returns:
        The `X-Support-Triage-Signature` header value, `t=<timestamp>,v1=<hex hmac>`.
    """
    return f"t={timestamp},v1={_mac(body, secret, timestamp)}"


def verify(
    body: bytes, secret: str, header_value: str, *, now: int, tolerance: int = DEFAULT_TOLERANCE
) -> bool:
    """Check a `X-Support-Triage-Signature` header against a body.

    Args:
        body: The raw request body bytes.
        secret: The shared secret.
        header_value: The header as received.
        now: The receiver's clock, unix seconds.
        tolerance: Largest accepted distance between `t` and `now`, in seconds.

    Returns:
        True when the timestamp is within tolerance and one `v1` signature matches.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header_value.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = _mac(body, secret, timestamp)
    return any(hmac.compare_digest(expected, c) for c in candidates)
