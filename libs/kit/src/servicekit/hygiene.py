"""The catalogue hygiene view, the same in both services: `GET /v1/catalogue/hygiene`.

It lists what the catalogue in force still gets wrong (`contracts.catalogue.hygiene`: squads
without any channel, components without owner or with an owner in no squad, users in no or
several Groups and where their components go, names shared across namespaces, a missing
Service Delivery group), with the count of every problem kind and of the entities ignored
per kind. Items come in kind order, then by entity; `kind` (repeatable) and `q` filter them
and they page by keyset (`servicekit.paging`) like every list of both services.

`catalogue_problems{kind}` is a Prometheus gauge of the same counts, read from the catalogue
in force at each scrape (so a reload shows at once, and a refused reload changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from contracts.catalogue import Catalogue, HygieneItem, HygieneKind
from servicekit.auth import Triager
from servicekit.http import PROBLEM_RESPONSES
from servicekit.paging import as_int, as_str, decode_cursor, encode_cursor

HYGIENE_CURSOR = "catalogue-hygiene"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class HygienePage(BaseModel):
    """A page of the catalogue's problems, with the counts of the whole catalogue."""

    digest: str = Field(description="The catalogue in force (SHA-256 of its files).")
    source: str = Field(description="Where it was read from.")
    counts: dict[str, int] = Field(
        description="Problems per kind in the whole catalogue (every kind, zero included), "
        "whatever the filters."
    )
    ignored: dict[str, int] = Field(
        description="Entities of kinds support-triage does not use, per kind."
    )
    items: list[HygieneItem]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


def _matches(item: HygieneItem, q: str) -> bool:
    text = " ".join([item.entity, item.name, item.file, item.detail, *item.related]).lower()
    return q.lower() in text


def hygiene_page(
    catalogue: Catalogue,
    *,
    kinds: list[HygieneKind] | None = None,
    q: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> HygienePage:
    """One page of `catalogue.hygiene`.

    Args:
        catalogue: The catalogue in force.
        kinds: Only these kinds (all when empty).
        q: Only items whose entity, name, file, detail or related entities contain it
            (case-insensitive).
        limit: Most items on the page.
        cursor: The `next_cursor` of the previous page.

    Raises:
        InvalidCursor: The cursor is not a `next_cursor` of this listing.
    """
    after = decode_cursor(cursor, HYGIENE_CURSOR, as_int, as_str) if cursor else None
    rows = [
        item
        for item in catalogue.hygiene
        if (not kinds or item.kind in kinds)
        and (not q or _matches(item, q))
        and (after is None or item.sort_key > after)
    ]
    page = rows[:limit]
    more = len(rows) > limit
    return HygienePage(
        digest=catalogue.digest,
        source=catalogue.source,
        counts=catalogue.hygiene_counts(),
        ignored=dict(sorted(catalogue.report.ignored.items())),
        items=page,
        next_cursor=encode_cursor(HYGIENE_CURSOR, *page[-1].sort_key) if more and page else None,
    )


def hygiene_routes(current: Callable[[], Catalogue]) -> APIRouter:
    """`GET /v1/catalogue/hygiene` (tag `catalogue`) over the catalogue `current()` gives."""
    router = APIRouter(tags=["catalogue"], responses=PROBLEM_RESPONSES)

    @router.get(
        "/v1/catalogue/hygiene",
        response_model=HygienePage,
        summary="What the catalogue in force gets wrong",
        description="Squads with no notification channel, components without owner or whose "
        "owner is in no squad, users in no Group or in several (with the squad taken), names "
        "shared across namespaces, a missing Service Delivery group; counts per kind and the "
        "entities ignored per kind. A catalogue with errors is refused on load or reload "
        "(422 `invalid_catalogue` lists them) and never shows here.",
    )
    async def catalogue_hygiene(
        _who: Triager,
        kind: Annotated[
            list[HygieneKind] | None, Query(description="Only these kinds (repeat for several).")
        ] = None,
        q: Annotated[
            str | None,
            Query(max_length=200, description="Only items mentioning this text, e.g. a squad."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, Query(description="`next_cursor` of a page.")] = None,
    ) -> HygienePage:
        return hygiene_page(current(), kinds=kind, q=q, limit=limit, cursor=cursor)

    return router


class _CatalogueProblems(Collector):
    """`catalogue_problems{kind}`, counted from the catalogue in force at each scrape."""

    def __init__(self) -> None:
        self.current: Callable[[], Catalogue] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "catalogue_problems",
            "Problems of the catalogue in force, per kind (GET /v1/catalogue/hygiene lists them)",
            labels=["kind"],
        )
        if self.current is not None:
            for kind, n in self.current().hygiene_counts().items():
                gauge.add_metric([kind], n)
        yield gauge

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("catalogue_problems", "", labels=["kind"])


_PROBLEMS = _CatalogueProblems()
REGISTRY.register(_PROBLEMS)


def watch_catalogue(current: Callable[[], Catalogue]) -> None:
    """Make `catalogue_problems` count the catalogue `current()` gives (one per process: the
    last service to call this is the one counted)."""
    _PROBLEMS.current = current
