"""Static checks of the deployment artefacts under deploy/ and docker-compose.yml.

No Docker engine or Kubernetes is needed. Where a `docker-compose` (or `docker compose`) or
`helm` binary is on PATH, the files are also checked by those tools; otherwise those tests
are skipped with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from contracts.topics import Topics
from router.domain.policy import parse_policy

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
CHART = DEPLOY / "helm" / "support-triage"
EXAMPLES = sorted((DEPLOY / "helm" / "examples").glob("*.yaml"))
DASHBOARD = DEPLOY / "grafana" / "support-triage.json"

COMMON_ENV = {
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_ENABLE_IDEMPOTENCE",
    "CATALOGUE_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
}
SERVICE_ENV = {
    "triage": COMMON_ENV | {"MODEL_DIR", "ASSIGN_THRESHOLD", "HISTORY_PATH"},
    "router": COMMON_ENV
    | {"POLICY_PATH", "PUBLIC_BASE_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_SENDER"},
}
SERVICE_PORT = {"triage": 8000, "router": 8001}

# Metric names the services export (agreed names), plus the shared service kit's own names.
METRICS = {
    "triage_cases_total",
    "triage_prediction_confidence",
    "triage_deadletter_total",
    "triage_outbox_pending",
    "http_requests_total",
    "router_cases_assigned_total",
    "router_cases_escalated_total",
    "router_reassignments_total",
    "router_time_to_owner_seconds",
    "router_notifications_total",
    "router_notifications_failed",
    "router_swarms_open",
    "deadletter_total",
    "outbox_pending",
}
HISTOGRAMS = {"triage_prediction_confidence", "router_time_to_owner_seconds"}


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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
    return _load_yaml(COMPOSE)


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


# --- Helm chart --------------------------------------------------------------------------------

TEMPLATES = sorted((CHART / "templates").glob("*"))
VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
CFG_REF = re.compile(r"(?:\$cfg|\.cfg)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return _load_yaml(CHART / "values.yaml")


def test_chart_yaml_is_a_v2_application_chart() -> None:
    chart = _load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == CHART.name
    assert chart.get("type", "application") == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", chart["version"])
    assert isinstance(chart["appVersion"], str) and chart["appVersion"]


def _missing_paths(pattern: re.Pattern[str], roots: list[Any]) -> list[str]:
    missing = []
    for template in TEMPLATES:
        for match in pattern.finditer(template.read_text(encoding="utf-8")):
            for root in roots:
                node = root
                for key in match.group(1).strip(".").split("."):
                    if not (isinstance(node, dict) and key in node):
                        missing.append(f"{template.name}: {match[0]}")
                        break
                    node = node[key]
    return missing


def test_every_values_path_used_by_the_templates_exists(values: dict[str, Any]) -> None:
    assert _missing_paths(VALUES_REF, [values]) == []
    # `$cfg` / `.cfg` is one component's values (triage or router) in shared templates.
    assert _missing_paths(CFG_REF, [values["triage"], values["router"]]) == []
    text = "\n".join(t.read_text(encoding="utf-8") for t in TEMPLATES)
    assert len(VALUES_REF.findall(text)) > 50 and len(CFG_REF.findall(text)) > 10


def test_templates_have_balanced_actions() -> None:
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        depth = 0
        for token in re.findall(r"\{\{|\}\}", text):
            depth += 1 if token == "{{" else -1
            assert depth in (0, 1), f"{template.name}: nested or stray {token}"
        assert depth == 0, f"{template.name}: unclosed {{{{"


def test_included_templates_are_defined() -> None:
    text = "\n".join(t.read_text(encoding="utf-8") for t in TEMPLATES)
    defined = set(re.findall(r'define "([^"]+)"', text))
    included = set(re.findall(r'(?:include|template) "([^"]+)"', text))
    assert included and included <= defined, included - defined


def _unknown_keys(example: Any, default: Any, path: str = "") -> list[str]:
    """Keys of an example values file that values.yaml does not have (free-form maps aside)."""
    if not isinstance(example, dict) or not isinstance(default, dict) or not default:
        return []
    unknown = []
    for key, value in example.items():
        if key not in default:
            unknown.append(f"{path}{key}")
        else:
            unknown += _unknown_keys(value, default[key], f"{path}{key}.")
    return unknown


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_values_use_only_known_keys(example: Path, values: dict[str, Any]) -> None:
    assert _unknown_keys(_load_yaml(example), values) == []


def test_example_routing_policies_are_valid() -> None:
    checked = 0
    for example in EXAMPLES:
        content = (_load_yaml(example).get("policy") or {}).get("content")
        if content:
            policy = parse_policy(content, source=example.name)
            assert policy.thresholds.default == yaml.safe_load(content)["thresholds"]["default"]
            checked += 1
    assert checked, "no example sets policy.content"


def _helm(*args: str) -> str:
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip("helm is not on PATH")
    result = subprocess.run([helm, *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("example", [None, *EXAMPLES], ids=lambda p: p.name if p else "defaults")
def test_helm_lint(example: Path | None) -> None:
    _helm("lint", "--strict", str(CHART), *(["-f", str(example)] if example else []))


def _render(*args: str) -> list[dict[str, Any]]:
    out = _helm("template", "rel", str(CHART), "--namespace", "support", *args)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def test_helm_template_renders_workloads_with_probes_and_hardening() -> None:
    docs = _render()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {"rel-support-triage-triage", "rel-support-triage-router"}
    for name, port in SERVICE_PORT.items():
        pod = deployments[f"rel-support-triage-{name}"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["command"][:2] == [name, "serve"]
        assert "--no-migrate" in container["command"]
        assert container["ports"][0]["containerPort"] == port
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"] for e in container["env"]}
        assert {"KAFKA_BOOTSTRAP_SERVERS", "KAFKA_ENABLE_IDEMPOTENCE", "CATALOGUE_PATH"} <= env
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert sorted(j["spec"]["template"]["spec"]["containers"][0]["command"] for j in jobs) == [
        ["router", "db", "upgrade"],
        ["triage", "db", "upgrade"],
    ]
    for job in jobs:
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    kinds = {d["kind"] for d in docs}
    assert {"Service", "ConfigMap", "PodDisruptionBudget", "ServiceAccount"} <= kinds
    assert not kinds & {"HorizontalPodAutoscaler", "ServiceMonitor"}


def test_helm_template_optional_parts_and_secrets() -> None:
    docs = _render(
        "--set", "triage.autoscaling.enabled=true",
        "--set", "serviceMonitor.enabled=true",
        "--set", "router.existingSecret=router-db",
        "--set", "catalogue.existingConfigMap=team-catalogue",
        "--set-file", f"policy.content={ROOT / 'services/router/src/router/default_policy.yaml'}",
    )  # fmt: skip
    kinds = [d["kind"] for d in docs]
    assert kinds.count("HorizontalPodAutoscaler") == 1 and "ServiceMonitor" in kinds
    router = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-router")
    )
    pod = router["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"secretRef": {"name": "router-db"}} in container["envFrom"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["POLICY_PATH"] == "/etc/support-triage/policy/policy.yaml"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["catalogue"]["configMap"]["name"] == "team-catalogue"
    policy = next(d for d in docs if d["kind"] == "ConfigMap" and "policy" in d["metadata"]["name"])
    assert volumes["policy"]["configMap"]["name"] == policy["metadata"]["name"]
    assert yaml.safe_load(policy["data"]["policy.yaml"])["version"] == 1
    assert not any(d["kind"] == "ConfigMap" and "catalogue" in d["metadata"]["name"] for d in docs)


# --- Grafana dashboard -------------------------------------------------------------------------

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
                "and", "or", "unless", "inf", "nan"}  # fmt: skip


def _metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (functions, keywords and label names dropped)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", stripped)
    stripped = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped
    )
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        word, rest = match.group(0), stripped[match.end() :].lstrip()
        if word.lower() in PROMQL_WORDS or rest.startswith("("):
            continue
        for suffix in ("_bucket", "_sum", "_count"):
            if word.endswith(suffix) and word.removesuffix(suffix) in HISTOGRAMS:
                word = word.removesuffix(suffix)
        names.add(word)
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_dashboard_has_a_prometheus_datasource_variable(dashboard: dict[str, Any]) -> None:
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    uid = "${" + variable["name"] + "}"
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"]["uid"] == uid


def test_dashboard_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area


def test_dashboard_uses_only_exported_metrics_and_covers_them(dashboard: dict[str, Any]) -> None:
    used: set[str] = set()
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), expr
            names = _metric_names(expr)
            assert names and names <= METRICS, (panel["title"], names - METRICS)
            used |= names
    assert METRICS - {"deadletter_total", "outbox_pending"} <= used
    exprs = [t["expr"] for p in _panels(dashboard) for t in p["targets"]]
    for q in ("0.5", "0.9"):
        assert any(f"histogram_quantile({q}, " in e and "time_to_owner" in e for e in exprs)


def test_dashboard_queries_parse_as_promql(dashboard: dict[str, Any]) -> None:
    parser = pytest.importorskip("promql_parser", reason="promql-parser is not installed")
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "5m").replace("$window", "1d")
            parser.parse(expr)


def test_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.9, sum by (le, squad) (rate(router_time_to_owner_seconds_bucket"
        '{squad!="x"}[5m]))) / on (job) group_left sum(up offset 1h) or vector(0)'
    )
    assert _metric_names(expr) == {"router_time_to_owner_seconds", "up"}


# --- Dockerfile --------------------------------------------------------------------------------


def _dockerfile() -> tuple[dict[str, str], list[tuple[str, str, list[str]]]]:
    """Global ARG defaults and the stages as (name, base image, instructions)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[tuple[str, str, list[str]]] = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if match := re.fullmatch(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I):
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
            stages.append((match.group(2) or str(len(stages)), image, []))
        elif not stages and (arg := re.fullmatch(r"ARG\s+(\w+)=(\S+)", line)):
            args[arg.group(1)] = arg.group(2)
        elif stages:
            stages[-1][2].append(line)
    return args, stages


def test_dockerfile_is_multi_stage_non_root_and_pinned() -> None:
    _, stages = _dockerfile()
    names = [name for name, _, _ in stages]
    assert "builder" in names and names[-1] == "runtime"
    for name, image, _ in stages:
        assert ":" in image and not image.endswith(":latest"), (name, image)
    assert stages[-1][1].startswith("python:3.11-slim")
    body = stages[-1][2]
    users = [line.split()[1] for line in body if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert not any(line.upper().startswith("HEALTHCHECK") for line in body)
    labels = " ".join(line for line in body if line.upper().startswith("LABEL"))
    for key in ("title", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    builder = " ".join(stages[names.index("builder")][2])
    assert "uv sync --frozen --no-dev --all-packages" in builder
    for line in (ln for _, _, lines in stages for ln in lines):
        if source := re.search(r"--from=(\S+)", line):
            assert source.group(1) in names, line


def test_dockerignore_keeps_the_workspace_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            if fnmatch(path, pattern) or any(fnmatch(p, pattern) for p in Path(path).parents):
                result = not negate
        return result

    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members = root["tool"]["uv"]["workspace"]["members"]
    for path in ["pyproject.toml", "uv.lock", "README.md", "demo", *members]:
        assert not ignored(path), path
        assert not ignored(f"{path}/pyproject.toml"), path
    for path in [".venv", ".git", "tests", ".tools"]:
        assert ignored(path), path
