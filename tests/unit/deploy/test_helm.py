"""Static checks of the Helm chart and its examples; rendered by `helm` when on PATH."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from router.domain.policy import parse_policy

from .conftest import CHART, EXAMPLES, ROOT, SERVICE_PORT, load_yaml

TEMPLATES = sorted((CHART / "templates").glob("*"))
VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
CFG_REF = re.compile(r"(?:\$cfg|\.cfg)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(CHART / "values.yaml")


def test_chart_yaml_is_a_v2_application_chart() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
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
    assert _unknown_keys(load_yaml(example), values) == []


def test_example_routing_policies_are_valid() -> None:
    checked = 0
    for example in EXAMPLES:
        content = (load_yaml(example).get("policy") or {}).get("content")
        if content:
            policy = parse_policy(content, source=example.name)
            written = yaml.safe_load(content)
            assert policy.thresholds.default == written["thresholds"].get("default")
            assert policy.modes.squads == written.get("modes", {}).get("squads", {})
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
