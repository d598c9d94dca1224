"""Paths and helpers shared by the static checks of the deployment artefacts.

No Docker engine or Kubernetes is needed. Where a `docker-compose` (or `docker compose`) or
`helm` binary is on PATH, the files are also checked by those tools; otherwise those tests
are skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
CHART = DEPLOY / "helm" / "support-triage"
EXAMPLES = sorted((DEPLOY / "helm" / "examples").glob("*.yaml"))
DASHBOARD = DEPLOY / "grafana" / "support-triage.json"
SERVICE_PORT = {"triage": 8000, "router": 8001}


def load_yaml(path: Path) -> Any:
    """The YAML document in `path`."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))
