"""The learning loop's settings reach every deployment the same way: Helm values and the
triage Deployment's env, docker-compose and the deploy README (static; no helm needed)."""

from __future__ import annotations

import re

import pytest

from triage.config import Settings

from .conftest import CHART, COMPOSE, DEPLOY, load_yaml

#: environment variable -> key under `triage.learning` in the chart's values
LEARNING = {
    "RETRAIN_HOLDOUT_SIZE": "retrainHoldoutSize",
    "RETRAIN_MIN_HOLDOUT": "retrainMinHoldout",
    "RETRAIN_MIN_EXAMPLES": "retrainMinExamples",
    "PROMOTION_MARGIN": "promotionMargin",
    "MODEL_POLL_SECONDS": "modelPollSeconds",
    "RETRAIN_LEASE_SECONDS": "retrainLeaseSeconds",
    "MODEL_KEEP_VERSIONS": "modelKeepVersions",
}


def test_every_learning_setting_is_a_setting_of_the_service() -> None:
    assert {name.lower() for name in LEARNING} <= Settings.model_fields.keys()


def test_helm_values_default_to_the_service_defaults() -> None:
    learning = load_yaml(CHART / "values.yaml")["triage"]["learning"]
    assert learning == dict.fromkeys(LEARNING.values(), "")  # empty: not set, the default


@pytest.mark.parametrize("env", sorted(LEARNING))
def test_the_triage_deployment_passes_the_value_even_when_zero(env: str) -> None:
    template = (CHART / "templates" / "triage-deployment.yaml").read_text(encoding="utf-8")
    path = rf"\.Values\.triage\.learning\.{LEARNING[env]}"
    block = re.search(
        rf'{{{{- if ne \(toString {path}\) "" }}}}\n'
        rf"\s+- name: {env}\n"
        rf"\s+value: {{{{ {path} \| toString \| quote }}}}\n"
        rf"\s+{{{{- end }}}}",
        template,
    )
    assert block is not None, f"{env} is not passed from triage.learning.{LEARNING[env]}"


@pytest.mark.parametrize("env", sorted(LEARNING))
def test_compose_passes_the_setting_with_the_service_default(env: str) -> None:
    triage_env = load_yaml(COMPOSE)["services"]["triage"]["environment"]
    match = re.fullmatch(rf"\$\{{{env}:-([^}}]+)\}}", str(triage_env[env]))
    assert match is not None, triage_env.get(env)
    default = Settings.model_fields[env.lower()].default
    assert float(match[1]) == float(default)


def test_the_deploy_readme_lists_them() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "`triage.learning.*`" in text
    for env, key in LEARNING.items():
        assert f"`{env}`" in text and f"`{key}`" in text
