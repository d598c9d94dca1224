"""Static checks of docker-compose.yml and the scripts it runs (see `conftest`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from contracts.topics import Topics

from .conftest import COMPOSE, DEPLOY, ROOT, SERVICE_PORT, load_yaml

COMMON_ENV = {
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "CATALOGUE_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
}
SERVICE_ENV = {
    "triage": COMMON_ENV | {"MODEL_DIR", "TARGET_PRECISION", "HISTORY_PATH"},
    "router": COMMON_ENV
    | {"POLICY_PATH", "PUBLIC_BASE_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_SENDER"},
}


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def _depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (cond or {}).get("condition", "service_started") for name, cond in deps.items()}


def _bind_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(host path, container path, read-only) of each bind mount (host path starts with .)."""
    mounts = []
    for volume in service.get("volumes") or []:
        parts = volume.split(":")
        if parts[0].startswith((".", "/")):
            mounts.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return mounts


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The file on this machine that a container path of the service is bound to."""
    target = PurePosixPath(container_path)
    for host, inside, _ in _bind_mounts(service):
        if target == PurePosixPath(inside) or PurePosixPath(inside) in target.parents:
            return ROOT / host / target.relative_to(inside)
    return None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_services_have_an_image_or_build_and_pinned_tags(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "postgres", "triage", "router"} <= services.keys()
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        image = service.get("image", "")
        if image and "build" not in service:
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image!r}"
    assert services["kafka"]["image"] == "apache/kafka:3.9.0"
    assert services["postgres"]["image"].startswith("postgres:16")


def test_compose_depends_on_names_existing_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep, condition in _depends(service).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} health"


@pytest.mark.parametrize("name", ["triage", "router"])
def test_compose_app_service(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    port = SERVICE_PORT[name]
    assert f"{port}:{port}" in [str(p) for p in service["ports"]]
    assert service["command"][:2] == [name, "serve"]
    assert str(port) in service["command"]
    assert "--no-migrate" in service["command"], "the migrate step owns the schema"
    env = _env(service)
    assert SERVICE_ENV[name] <= env.keys(), SERVICE_ENV[name] - env.keys()
    assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true"
    assert env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] in compose["services"]
    assert f"/{name}" in env["DATABASE_URL"] and "@postgres:5432/" in env["DATABASE_URL"]
    assert f":{port}/readyz" in " ".join(service["healthcheck"]["test"])
    deps = _depends(service)
    migrate = compose["services"][f"{name}-migrate"]
    assert deps[f"{name}-migrate"] == "service_completed_successfully"
    assert migrate["command"] == [name, "db", "upgrade"]
    assert _env(migrate)["DATABASE_URL"] == env["DATABASE_URL"]


@pytest.mark.parametrize("name", ["triage", "router"])
def test_compose_catalogue_is_mounted_read_only_from_the_demo(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    catalogue = PurePosixPath(_env(service)["CATALOGUE_PATH"])
    mounts = [
        m for m in _bind_mounts(service) if PurePosixPath(m[1]) in (catalogue, *catalogue.parents)
    ]
    assert mounts and all(read_only for _, _, read_only in mounts)
    host = _host_path(service, str(catalogue))
    assert host is not None and host.is_dir() and any(host.glob("*.yaml"))


def test_compose_trains_triage_from_the_demo_history(compose: dict[str, Any]) -> None:
    triage = compose["services"]["triage"]
    history = _host_path(triage, _env(triage)["HISTORY_PATH"])
    assert history is not None and history.is_file()
    mounted = {PurePosixPath(volume.split(":")[1]) for volume in triage["volumes"]}
    assert PurePosixPath(_env(triage)["MODEL_DIR"]) in mounted, "the model must outlive restarts"


def test_compose_policy_path_is_the_packaged_default(compose: dict[str, Any]) -> None:
    policy = _env(compose["services"]["router"])["POLICY_PATH"]
    default = re.fullmatch(r"\$\{POLICY_PATH:-(.+)\}", policy)
    path = PurePosixPath(default.group(1) if default else policy)
    assert path.is_relative_to("/app"), "the image holds the repository at /app"
    assert (ROOT / path.relative_to("/app")).is_file()


def test_compose_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") != "no":
            assert service.get("healthcheck", {}).get("test"), name


def test_compose_bind_mounts_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for host, _, _ in _bind_mounts(service):
            assert (ROOT / host).exists(), f"{name}: {host} is missing"


def test_compose_creates_every_topic_and_both_databases(compose: dict[str, Any]) -> None:
    script = (DEPLOY / "kafka" / "create-topics.sh").read_text(encoding="utf-8")
    for topic in Topics().model_dump().values():
        assert re.search(rf"^\s*{re.escape(topic)}\b", script, re.M), topic
    init = (DEPLOY / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    for name in ("triage", "router"):
        url = _env(compose["services"][name])["DATABASE_URL"]
        user, database = re.search(r"://([^:]+):.*/(\w+)$", url).groups()  # type: ignore[union-attr]
        assert user == database == name
        assert re.search(rf"^create {name} ", init, re.M)


@pytest.mark.parametrize("script", sorted(DEPLOY.glob("*/*.sh")), ids=lambda p: p.name)
def test_deploy_shell_scripts_parse(script: Path) -> None:
    shell = "bash" if script.read_text(encoding="utf-8").startswith("#!/bin/bash") else "sh"
    subprocess.run([shell, "-n", str(script)], check=True)


def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None


def test_compose_config_accepted_by_compose_cli() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor `docker compose` is on PATH")
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
