"""The AsyncAPI document validates with the official parser (`@asyncapi/parser`, installed
by `make install` from tools/asyncapi/package-lock.json when npm is there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from contracts import generate

ROOT = generate.ROOT.parent
TOOL = ROOT / "tools" / "asyncapi"
DOCUMENT = generate.ROOT / "asyncapi" / "asyncapi.yaml"


def _parser() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the official AsyncAPI parser runs on Node.js >= 18")
    if not (TOOL / "node_modules" / "@asyncapi" / "parser").is_dir():
        missing = "tools/asyncapi/node_modules is missing; `make install` runs `npm ci` there"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing + " (needs npm)")
    return [node, str(TOOL / "validate.mjs")]


def test_the_document_and_a_broken_one_meet_the_official_parser(tmp_path: Path) -> None:
    command = _parser()
    shutil.copytree(generate.ROOT / "jsonschema", tmp_path / "jsonschema")
    broken = generate.asyncapi()
    broken["operations"]["routerConsumesTriaged"]["action"] = "subscribe"  # AsyncAPI 2 word
    (tmp_path / "asyncapi").mkdir()
    broken_file = tmp_path / "asyncapi" / "broken.yaml"
    broken_file.write_text(yaml.safe_dump(broken, sort_keys=False))

    run = subprocess.run(
        [*command, str(DOCUMENT), str(broken_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    reports = json.loads(run.stdout)
    ours = reports[str(DOCUMENT)]
    assert ours["parsed"] and ours["errors"] == [] and ours["warnings"] == [], ours
    assert set(ours["operations"]) == {
        "triageConsumesReceived",
        "triagePublishesTriaged",
        "triageConsumesLifecycle",
        "triageSendsDeadLetters",
        "routerConsumesTriaged",
        "routerPublishesLifecycle",
        "routerSendsDeadLetters",
    }
    errors = reports[str(broken_file)]["errors"]
    assert any("routerConsumesTriaged/action" in e["path"] for e in errors), errors
    assert run.returncode == 1
