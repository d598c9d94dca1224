"""The README's walkthrough and its Kafka snippet, run as written against the real processes
(`conftest.pipeline`).

Every `$ curl ...` line of the *Walkthrough* section is parsed (shlex: method, URL, headers,
body) and sent to the pipeline, with the README's fixed addresses (127.0.0.1:8000, :8001,
:8025) replaced by the pipeline's and `$ID` by the id step 1 answered. The output the README
shows under a command is shortened JSON: every `"key": value` pair of it with a scalar value
must be in the real answer (numbers to the README's precision), except the values the README
says will differ (ids, times, model version) and strings it cut short with `...`. Reads are
repeated for up to `WITHIN` seconds until they match (the events take a moment to flow);
writes are sent once.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from devkit.testing import KEY_ENV, auth_headers

if TYPE_CHECKING:
    from conftest import Pipeline

pytestmark = [pytest.mark.e2e]

README = Path(__file__).resolve().parents[2] / "README.md"
WITHIN = 60.0
VARYING = {
    "id",
    "case_id",
    "model_version",
    "ack_deadline",
    "time_to_owner_p50_seconds",
    "time_to_owner_p90_seconds",
}
PAIR = re.compile(r'"(\w+)":\s*("(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)')


@dataclass
class Step:
    """One command of the walkthrough and the output the README shows for it."""

    command: str
    shown: list[str] = field(default_factory=list)


def walkthrough_steps(text: str) -> list[Step]:
    """The commands of the walkthrough's console blocks, continuation lines joined."""
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.S):
        pending: list[str] = []
        for line in block.splitlines():
            if pending:
                pending.append(line)
            elif line.startswith("$ "):
                pending = [line[2:]]
            elif steps:
                steps[-1].shown.append(line)
            if pending and _complete(pending):
                steps.append(Step(_joined(pending)))
                pending = []
    return steps


def _joined(lines: list[str]) -> str:
    return "\n".join(line[:-1] if line.endswith("\\") else line for line in lines)


def _complete(lines: list[str]) -> bool:
    """A command ends on a line without `\\` that closes every quote."""
    if lines[-1].endswith("\\"):
        return False
    try:
        shlex.split(_joined(lines), comments=True)
    except ValueError:
        return False
    return True


def expected_pairs(shown: list[str]) -> list[tuple[str, str]]:
    """The `"key": scalar` pairs of the shown output that the real answer must contain."""
    pairs = PAIR.findall("\n".join(shown))
    return [(k, v) for k, v in pairs if k not in VARYING and "..." not in v]


def found(key: str, shown: str, answer: Any) -> bool:
    """Whether `answer` holds `key` with the shown value anywhere in it."""
    if isinstance(answer, list):
        return any(found(key, shown, item) for item in answer)
    if not isinstance(answer, dict):
        return False
    if key in answer and _same(json.loads(shown), answer[key], shown):
        return True
    return any(found(key, shown, value) for value in answer.values())


def _same(expected: Any, actual: Any, text: str) -> bool:
    if isinstance(expected, float) and isinstance(actual, int | float):
        places = len(text.split(".", 1)[1])
        return round(float(actual), places) == expected
    return bool(expected == actual and type(expected) is type(actual))


@dataclass
class Request:
    """A curl command as an HTTP request."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None


def parse_curl(command: str, addresses: dict[str, str], case_id: str | None) -> Request:
    """The request a README curl command sends, aimed at the pipeline."""
    if case_id is not None:
        command = command.replace("$ID", case_id)
    for var, key in KEY_ENV.items():  # the keys the README has the reader export
        command = command.replace(f"${var}", key)
    args = shlex.split(command, comments=True)
    assert args[0] == "curl", command
    method, url, headers, body = "GET", "", {}, None
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-X":
            method = next(rest)
        elif arg == "-H":
            name, value = next(rest).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data"):
            body = next(rest)
        elif arg.startswith("http"):
            url = arg
        else:
            assert arg in ("-s", "-i"), f"unhandled curl option {arg!r} in {command}"
    for readme_base, real_base in addresses.items():
        url = url.replace(readme_base, real_base)
    assert "$" not in url, url
    return Request(method, url, headers, body)


def _run(http: httpx.Client, req: Request) -> tuple[int, Any]:
    resp = http.request(req.method, req.url, headers=req.headers, content=req.body)
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, resp.text


def test_the_walkthrough_prints_what_the_readme_shows(pipeline: Pipeline) -> None:
    steps = walkthrough_steps(README.read_text(encoding="utf-8"))
    assert len([s for s in steps if s.command.startswith("curl")]) >= 12
    addresses = {
        "http://127.0.0.1:8000": pipeline.triage.url,
        "http://127.0.0.1:8001": pipeline.router.url,
        "http://127.0.0.1:8025": pipeline.sink.http_url,
    }
    case_id: str | None = None
    checked = 0
    wrong: list[str] = []
    with httpx.Client(timeout=10) as http:
        for step in steps:
            if step.command.startswith("ID="):
                continue  # the README sets ID from step 1's answer; so does this test
            req = parse_curl(step.command, addresses, case_id)
            want = expected_pairs(step.shown)
            deadline = time.monotonic() + (WITHIN if req.method == "GET" and want else 0)
            while True:
                status, answer = _run(http, req)
                missing = [(k, v) for k, v in want if not found(k, v, answer)]
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert status < 500, (step.command, status, answer)
            if missing:
                wrong.append(f"{step.command}\n README shows {missing}\n it printed {answer}")
            checked += len(want)
            if case_id is None and req.method == "POST" and req.url.endswith("/v1/cases"):
                case_id = answer["id"]
    assert not wrong, "\n\n".join(wrong)
    assert checked >= 40, checked


# Makes the snippet's process unable to import the project, as on another team's machine.
NOT_THE_PROJECT = """
import sys


class _NotHere:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"contracts", "servicekit", "triage", "router", "scripts"}:
            raise ImportError(f"{name} is part of support-triage, not of the sender")
        return None


sys.meta_path.insert(0, _NotHere())
"""


def test_the_kafka_snippet_runs_as_written_outside_the_project(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    section = README.read_text(encoding="utf-8").split("Publish a case from another system", 1)
    match = re.search(r"```python\n(.*?)```", section[1], flags=re.S)
    assert match, "no python block after 'Publish a case from another system'"
    code = match.group(1)
    for constant, value in (
        ('BOOTSTRAP = "127.0.0.1:9092"', f'BOOTSTRAP = "{pipeline.bootstrap}"'),
        ('TOPIC = "support.case.received.v1"', f'TOPIC = "{pipeline.topics.received}"'),
    ):
        assert constant in code, f"the snippet no longer defines {constant}"
        code = code.replace(constant, value)
    script = tmp_path / "publish.py"
    script.write_text(NOT_THE_PROJECT + code, encoding="utf-8")

    run = subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    deadline = time.monotonic() + WITHIN
    with httpx.Client(headers=auth_headers("triager"), timeout=10) as http:
        while True:
            cases = http.get(f"{pipeline.triage.url}/v1/cases", params={"source": "crm"}).json()
            refs = [c["submission"]["external_ref"] for c in cases["items"]]
            if "CRM-4711" in refs or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    assert refs == ["CRM-4711"]
