"""Routes of the catalogue, the policy and operations (health, figures, sweep).

Catalogue and policy reloads and the sweep are audited right after they succeed, in a
transaction of their own (`audit_after`), not in the action's: a reload re-reads files into
this process's memory (no database write to share a transaction with; a process that dies
before the entry is written also loses what it loaded, and starts again from the files), and
a sweep escalates each overdue case in its own transaction as the router (each in the case's
history), exactly as the periodic sweeper does; the entry records who asked for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from contracts.catalogue import Catalogue, Component, LoadReport
from router.domain.notifications import Channel, targets_for
from router.domain.policy import Policy, parse_policy
from router.entrypoints.deps import ContainerDep
from router.service import queries
from router.service.queries import Summary
from servicekit.audit_http import audit_after
from servicekit.auth import Admin, Triager
from servicekit.http import PROBLEM_RESPONSES, ProblemError
from servicekit.paging import IsoDateTime

router = APIRouter(responses=PROBLEM_RESPONSES)


class SquadView(BaseModel):
    """A squad; channel addresses are not shown (webhook URLs are credentials)."""

    name: str
    title: str
    description: str
    service_delivery: bool
    channels: list[str]
    components: list[str]


class CatalogueView(BaseModel):
    """The catalogue in force."""

    digest: str
    source: str
    squads: list[SquadView]
    components: list[Component]
    report: LoadReport


def _view(cat: Catalogue, channels: Sequence[Channel]) -> CatalogueView:
    return CatalogueView(
        digest=cat.digest,
        source=cat.source,
        squads=[
            SquadView(
                name=s.name,
                title=s.title,
                description=s.description,
                service_delivery=s.service_delivery,
                channels=[t.channel for t in targets_for(s, channels)],
                components=sorted(c.name for c in cat.owned_by(s.name)),
            )
            for s in sorted(cat.squads.values(), key=lambda s: s.name)
        ],
        components=sorted(cat.components.values(), key=lambda c: c.name),
        report=cat.report,
    )


class Reloaded(BaseModel):
    """The outcome of a reload."""

    changed: bool
    digest: str


@router.get(
    "/v1/catalogue",
    tags=["catalogue"],
    summary="The service catalogue in force",
    description="Squads (with the channels they are notified on), components with owners, "
    "and the load report: entities read and ignored per kind, and warnings.",
)
async def get_catalogue(c: ContainerDep, _who: Triager) -> CatalogueView:
    return _view(c.catalogue.current, c.pub.channels)


@router.post(
    "/v1/catalogue/reload",
    tags=["catalogue"],
    summary="Re-read the catalogue files",
    description="Swaps the catalogue only if the files validate; otherwise 422 lists every "
    "problem and the catalogue in force stays.",
)
async def reload_catalogue(c: ContainerDep, who: Admin, request: Request) -> Reloaded:
    changed = await asyncio.to_thread(c.catalogue.reload)
    digest = c.catalogue.current.digest
    await audit_after(
        request, who, "catalogue.reload", None, {"changed": changed, "digest": digest}
    )
    return Reloaded(changed=changed, digest=c.catalogue.current.digest)


@router.get(
    "/v1/policy",
    tags=["policy"],
    summary="The routing policy in force",
    description="Thresholds, cross-squad margin, major-incident signals, acknowledgement "
    "deadlines and swarm limits.",
)
async def get_policy(c: ContainerDep, _who: Triager) -> Policy:
    return c.policy.current


_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {
                "schema": {"type": "string"},
                "example": "version: 1\nname: strict\nthresholds: {default: 0.8}\n"
                "ack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}\n",
            }
        },
    }
}


class Validated(BaseModel):
    """A policy that validates."""

    ok: bool
    name: str
    digest: str
    unknown_squads: list[str]


@router.post(
    "/v1/policy/validate",
    tags=["policy"],
    summary="Check a policy document without applying it",
    description="Send the YAML as the body (at most 64 KiB, no aliases). Answers `ok` (with "
    "squads the catalogue does not know, if any) or 422 listing every invalid field.",
    openapi_extra=_YAML_BODY,
)
async def validate_policy(c: ContainerDep, _who: Admin, request: Request) -> Validated:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError("invalid_encoding", "the body is not UTF-8") from exc
    policy = await asyncio.to_thread(parse_policy, text, "request body")
    return Validated(
        ok=True,
        name=policy.name,
        digest=policy.digest,
        unknown_squads=policy.unknown_squads(c.catalogue.current),
    )


@router.post(
    "/v1/policy/reload",
    tags=["policy"],
    summary="Re-read the policy file",
    description="Swaps the policy only if the file validates (else 422 listing the problems). "
    "With no POLICY_PATH the packaged default is in force and nothing changes.",
)
async def reload_policy(c: ContainerDep, who: Admin, request: Request) -> Reloaded:
    changed = await asyncio.to_thread(c.policy.reload)
    digest = c.policy.current.digest
    await audit_after(request, who, "policy.reload", None, {"changed": changed, "digest": digest})
    return Reloaded(changed=changed, digest=c.policy.current.digest)


@router.get(
    "/v1/metrics/summary",
    tags=["ops"],
    summary="Service Delivery figures",
    description="For cases received since `since` (all when absent): cases routed, "
    "auto-assign rate, escalation rate by reason, misroute rate (reassigned / assigned), "
    "time to owner p50/p90 in seconds, open swarms.",
)
async def summary(
    c: ContainerDep,
    _who: Triager,
    since: Annotated[
        IsoDateTime | None,
        Query(description="ISO 8601 with offset, e.g. 2026-03-01T00:00:00Z"),
    ] = None,
) -> Summary:
    return await asyncio.to_thread(queries.metrics_summary, since, store=c.store)


class Swept(BaseModel):
    """The outcome of a sweep."""

    escalated: int


@router.post(
    "/v1/admin/sweep",
    tags=["ops"],
    summary="Run one acknowledgement-timeout sweep now (operators, tests)",
    description="Escalates every assigned case past its acknowledgement deadline, exactly as "
    "the periodic sweeper does; safe to call while it runs (each case escalates once).",
)
async def sweep(c: ContainerDep, who: Admin, request: Request) -> Swept:
    escalated = await asyncio.to_thread(c.sweep)
    c.wake()
    await audit_after(request, who, "sweep", None, {"escalated": escalated})
    return Swept(escalated=escalated)
