"""Swagger UI works without internet access: its assets are served by the service."""

from __future__ import annotations

import re

import httpx


async def test_swagger_ui_assets_are_served_locally(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert (await client.get(asset)).status_code == 200
