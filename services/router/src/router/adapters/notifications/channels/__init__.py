"""The notification channels: one module per channel, found by looking.

Every module of this package that defines `CHANNEL` is a channel in service: `slack`,
`teams`, `webhook`, `email`. `CHANNELS` lists them in their `order`; the router notifies a
squad on each channel whose address the squad's catalogue entry has.

**Adding a channel** touches one module plus its test. Write `channels/<name>.py` with:

- a subclass of `base.HttpJsonChannel` (a service that takes one JSON POST: implement
  `render`, optionally `headers`) or of `base.BaseChannel` (anything else: implement `send`);
- `name` (stored on every queued notification: never rename it), `order` (where it comes
  among the channels), and `target(squad)`: the squad's address for it in the catalogue,
  or None;
- `CHANNEL = YourChannel()` at module level.

Then `tests/unit/router_notifications/test_channel_<name>.py`: its rendering, what it sends
(over `httpx.MockTransport` or a real local server) and how it classifies failures. Nothing
else changes: routing queues its notifications, the delivery worker sends and retries them,
`GET /v1/catalogue` lists it. Its address must be in the catalogue's `Squad.channels`
(`contracts.catalogue`); a channel configured by a new annotation also needs that field
there (a contract change).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from router.adapters.notifications.channels.base import BaseChannel


def discover(package: str, path: Iterable[str]) -> tuple[BaseChannel, ...]:
    """The `CHANNEL` of every module of a package, in order.

    Args:
        package: The package's dotted name.
        path: Its `__path__`.

    Raises:
        RuntimeError: Two modules define channels with the same name.
    """
    found: list[BaseChannel] = []
    for info in pkgutil.iter_modules(path):
        module = importlib.import_module(f"{package}.{info.name}")
        channel = getattr(module, "CHANNEL", None)
        if isinstance(channel, BaseChannel):
            found.append(channel)
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two channel modules share a name: {sorted(names)}")
    return tuple(sorted(found, key=lambda c: (c.order, c.name)))


CHANNELS: tuple[BaseChannel, ...] = discover(__name__, __path__)
"""Every channel in service, in order."""
__all__ = ["CHANNELS", "BaseChannel", "discover"]
