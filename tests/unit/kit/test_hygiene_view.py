"""The catalogue hygiene view's paging, filters and gauge (servicekit.hygiene), on the
Backstage-style test catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from contracts.catalogue import Catalogue, HygieneKind, load_catalogue
from servicekit.hygiene import hygiene_page, watch_catalogue
from servicekit.paging import InvalidCursor, encode_cursor

ACME = Path(__file__).resolve().parents[2] / "data" / "backstage-acme"
DEMO = Path(__file__).resolve().parents[3] / "demo" / "catalogue"


@pytest.fixture(scope="module")
def acme() -> Catalogue:
    return load_catalogue(ACME)


def test_pages_cover_every_item_once_in_order(acme: Catalogue) -> None:
    seen, cursor, pages = [], None, 0
    while True:
        page = hygiene_page(acme, limit=2, cursor=cursor)
        seen += page.items
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == acme.hygiene
    assert pages == 5  # 9 items, 2 a page
    assert page.counts == acme.hygiene_counts()
    assert page.ignored == {
        "API": 2,
        "Domain": 1,
        "Environment": 2,
        "Location": 1,
        "Resource": 1,
        "Template": 1,
    }


def test_filters_keep_the_whole_catalogue_counts(acme: Catalogue) -> None:
    page = hygiene_page(acme, kinds=[HygieneKind.USER_WITHOUT_GROUP, HygieneKind.DUPLICATE_NAME])
    assert [i.kind for i in page.items] == ["user_without_group", "duplicate_name"]
    assert page.counts["squad_without_channel"] == 3
    found = hygiene_page(acme, q="TEAM-VENUES")
    assert [i.entity for i in found.items] == [
        "group:default/team-venues",
        "user:default/grace.hopper",  # resolved to it
    ]
    assert found.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    ["nope", encode_cursor("swarms", 1, "x"), encode_cursor("catalogue-hygiene", "1", "x")],
)
def test_a_cursor_of_another_kind_is_refused(acme: Catalogue, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        hygiene_page(acme, cursor=cursor)


def _gauge() -> dict[str, float]:
    return {
        s.labels["kind"]: s.value
        for m in REGISTRY.collect()
        if m.name == "catalogue_problems"
        for s in m.samples
    }


def test_the_gauge_counts_the_catalogue_in_force(acme: Catalogue) -> None:
    current = {"catalogue": acme}
    watch_catalogue(lambda: current["catalogue"])
    assert _gauge() == {k: float(n) for k, n in acme.hygiene_counts().items()}
    current["catalogue"] = load_catalogue(DEMO)  # a reload
    assert _gauge()["squad_without_channel"] == 0.0
    assert _gauge()["component_without_owner"] == 3.0
