"""The catalogue loader on the demo catalogue and on broken catalogues."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from contracts.catalogue import CatalogueError, load_catalogue

DEMO = Path(__file__).resolve().parents[2] / "demo" / "catalogue"

GROUP = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {{name: {name}}}
spec: {{type: {type}}}
"""
COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {{name: {name}}}
spec: {{owner: {owner}}}
"""
DELIVERY = GROUP.format(name="service-delivery", type="service-delivery")


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def test_demo_catalogue_loads_from_its_folder() -> None:
    files = sorted(DEMO.glob("*.yaml"))
    assert len(files) >= 5, "the demo is split per domain"
    cat = load_catalogue(DEMO)
    owning = [s for s in cat.squads.values() if not s.service_delivery]
    assert len(owning) == 8
    assert cat.service_delivery.name == "service-delivery"
    comps = [c for c in cat.components.values() if c.kind == "Component"]
    assert 25 <= len(comps) <= 35
    assert len([c for c in comps if c.owner is None]) >= 2
    for squad in cat.squads.values():
        assert squad.channels.webhook_url == f"http://127.0.0.1:8025/hooks/{squad.name}"
        assert squad.channels.webhook_secret_env == "SUPPORT_TRIAGE_SECRET_DEMO"
    assert any(s.channels.slack_webhook for s in cat.squads.values())
    assert any(s.channels.teams_webhook for s in cat.squads.values())
    assert any(s.channels.email for s in cat.squads.values())
    for comp in comps:
        if comp.owner:
            assert comp.keywords and comp.aliases, comp.name
            assert comp.owner in cat.squads


def test_components_from_every_file_of_the_demo_are_loaded() -> None:
    cat = load_catalogue(DEMO)
    for file in DEMO.glob("*.yaml"):
        names = [
            line.split(":", 1)[1].strip()
            for line in file.read_text().splitlines()
            if line.startswith("  name: ")
        ]
        for name in names:
            assert name in cat.components or name in cat.squads, (file.name, name)


def test_multi_document_file_and_folder_with_subfolders(tmp_path: Path) -> None:
    root = _write(
        tmp_path / "cat",
        {
            "groups.yaml": GROUP.format(name="alpha", type="team") + "---\n" + DELIVERY,
            "nested/comps.yml": COMPONENT.format(name="a1", owner="group:default/alpha")
            + "---\n"
            + COMPONENT.format(name="a2", owner="alpha"),
        },
    )
    cat = load_catalogue(root)
    assert set(cat.components) == {"a1", "a2"}
    assert {c.owner for c in cat.components.values()} == {"alpha"}
    assert set(cat.squads) == {"alpha", "service-delivery"}


def test_unowned_component_is_kept_without_owner(tmp_path: Path) -> None:
    text = (
        GROUP.format(name="alpha", type="team")
        + "---\n"
        + DELIVERY
        + """---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: orphan}
spec: {type: service}
"""
    )
    cat = load_catalogue(_write(tmp_path, {"c.yaml": text}))
    assert cat.components["orphan"].owner is None
    assert "orphan" not in [c.name for c in cat.owned_by("alpha")]


def test_owner_that_is_not_a_group_is_refused_with_where(tmp_path: Path) -> None:
    text = DELIVERY + "---\n" + COMPONENT.format(name="lost", owner="group:default/ghosts")
    folder = _write(tmp_path, {"bad.yaml": text})
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    message = str(info.value)
    assert "bad.yaml" in message
    assert "Component:lost" in message
    assert "spec.owner" in message
    assert "ghosts" in message


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    folder = _write(
        tmp_path,
        {
            "a.yaml": DELIVERY + "---\n" + GROUP.format(name="alpha", type="team"),
            "b.yaml": GROUP.format(name="alpha", type="team"),
        },
    )
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    assert any(
        i.field == "metadata.name" and "duplicate" in i.message and i.file.endswith("b.yaml")
        for i in info.value.issues
    )


def test_component_and_system_with_one_name_are_refused(tmp_path: Path) -> None:
    system = COMPONENT.format(name="shop", owner="alpha").replace("kind: Component", "kind: System")
    folder = _write(
        tmp_path,
        {
            "g.yaml": DELIVERY + "---\n" + GROUP.format(name="alpha", type="team"),
            "s.yaml": system + "---\n" + COMPONENT.format(name="shop", owner="alpha"),
        },
    )
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    assert any(
        i.entity == "Component:shop" and i.field == "metadata.name" for i in info.value.issues
    )


def test_invalid_yaml_is_refused_with_the_file(tmp_path: Path) -> None:
    folder = _write(tmp_path, {"ok.yaml": DELIVERY, "broken.yaml": "kind: [Group\nname: x"})
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    assert any(i.file.endswith("broken.yaml") and "YAML" in i.message for i in info.value.issues)


def test_two_service_delivery_groups_are_refused(tmp_path: Path) -> None:
    docs = [GROUP.format(name="alpha", type="team")]
    docs += [GROUP.format(name=f"sd{i}", type="service-delivery") for i in range(2)]
    folder = _write(tmp_path, {"g.yaml": "---\n".join(docs)})
    with pytest.raises(CatalogueError) as info:
        load_catalogue(folder)
    [issue] = info.value.issues
    assert issue.field == "spec.type"
    assert "sd0, sd1" in issue.message


def test_no_service_delivery_group_is_a_warning_not_an_error(tmp_path: Path) -> None:
    folder = _write(tmp_path, {"g.yaml": GROUP.format(name="alpha", type="team")})
    cat = load_catalogue(folder)
    assert cat.service_delivery is None
    assert any("no Service Delivery group" in w.message for w in cat.report.warnings)
    assert any("no Service Delivery group" in w for w in cat.routing_warnings())


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no such file"):
        load_catalogue(tmp_path / "nowhere")
