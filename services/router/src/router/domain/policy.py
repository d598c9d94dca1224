"""The routing policy: a versioned YAML document, validated at load, reloadable.

```yaml
version: 1                     # policy format version, must be 1
name: default
thresholds:                    # explicit overrides of the model's thresholds (optional)
  default: null                # null: each squad's threshold from the model (its target
                               # precision); a number: this confidence for every squad
  squads: {payments: 0.75}     # per-squad overrides
modes:                         # what the model may do, per squad
  default: auto                # auto | suggest | shadow | off
  squads: {payments: suggest}
precision_watch:               # realised precision of automatic assignments, per squad
  enabled: true
  window_cases: 50             # the last N automatic assignments of the squad ...
  window_days: 30              # ... made in the last N days
  min_cases: 10                # no verdict on fewer automatic assignments in the window
  margin: 0.05                 # demote to `suggest` below target - margin
  target_precision: null       # null: the model's target (in each recommendation)
cross_squad_margin: 0.1        # top candidates within this probability => spans squads
major_incident:
  priorities: [P1]
  keywords: ["all customers", "site down", "outage"]   # whole words, case-insensitive
  tags: [customer-wide]        # case tags that signal customer-wide impact
ack_deadlines: {P1: 15m, P2: 1h, P3: 4h, P4: 1d}     # every priority; "90s", "1h30m", "2d"
swarm:
  max_squads: 4                # cap on the squads invited to a swarm
```

Unknown keys are refused everywhere. The document is untrusted input (`POST /v1/policy/validate`
takes it from the network): YAML aliases are refused (a few kilobytes of nested aliases expand
to millions of nodes), the text is capped at `MAX_POLICY_BYTES`, and every list and mapping at
`MAX_ENTRIES` entries of at most `MAX_PHRASE_CHARS` characters. Callers on an event loop parse
in a worker thread. `load_policy(path)` raises `PolicyError` naming every
bad field; `default_policy()` loads the policy shipped with the package. A `PolicyHolder`
keeps the current policy and swaps it only when a reload validates.

The JSON Schema in `schemas/jsonschema/routing-policy.schema.json` is generated from these
models: `python -m router.domain.policy > schemas/jsonschema/routing-policy.schema.json`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from contracts.cases import Priority
from contracts.catalogue import Catalogue
from router.domain.errors import PolicyError, PolicyIssue

POLICY_VERSION = 1
MAX_POLICY_BYTES = 64 * 1024
MAX_ENTRIES = 500
MAX_PHRASE_CHARS = 200
DURATION_PATTERN = r"^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$"
_DURATION = re.compile(DURATION_PATTERN)
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def parse_duration(value: object) -> timedelta:
    """Parse `"90s"`, `"15m"`, `"1h"`, `"1h30m"`, `"2d"` into a positive `timedelta`.

    Args:
        value: The text to parse (a `timedelta` passes through).

    Returns:
        The duration.

    Raises:
        ValueError: The text is not a duration of the form above, or is zero.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(
                f"invalid duration {value!r}: use a number with a unit d/h/m/s, "
                "e.g. '90s', '15m', '1h30m', '2d'"
            )
        seconds = sum(int(n) * u for n, (_, u) in zip(match.groups(), _UNITS, strict=True) if n)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be positive")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Format a `timedelta` the way the policy writes it (`timedelta(minutes=90)` -> `1h30m`)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A positive duration: '90s', '15m', '1h30m', '2d'.",
        }
    ),
]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Phrase = Annotated[str, Field(min_length=1, max_length=MAX_PHRASE_CHARS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """Explicit minimum confidences to auto-assign, overriding the model's own thresholds."""

    default: Probability | None = Field(
        default=None,
        description="One confidence for every squad; null: the threshold the model derived "
        "for each squad from its target precision (in the case's recommendation).",
    )
    squads: dict[Phrase, Probability] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Per-squad overrides (of `default` and the model's).",
    )

    def for_squad(self, squad: str | None) -> float | None:
        """The explicit threshold that applies to `squad`; None: the model's."""
        return self.squads.get(squad, self.default) if squad else self.default


class ModelMode(StrEnum):
    """What the model may do for a squad.

    - `auto`: a recommendation that meets its threshold is assigned.
    - `suggest`: escalated to Service Delivery with the recommendation attached.
    - `shadow`: routed by the rules only (escalated); what the model would have done is
      recorded on the case, not shown to anyone as a suggestion.
    - `off`: the model is ignored; routed by the rules only.
    """

    AUTO = "auto"
    SUGGEST = "suggest"
    SHADOW = "shadow"
    OFF = "off"


def _yaml_off(value: object) -> object:
    """YAML 1.1 reads an unquoted `off` as false: take it as the mode `off`."""
    return ModelMode.OFF.value if value is False else value


Mode = Annotated[ModelMode, BeforeValidator(_yaml_off)]


class Modes(_Strict):
    """The model's mode, by default and per squad."""

    default: Mode = ModelMode.AUTO
    squads: dict[Phrase, Mode] = Field(
        default_factory=dict,
        max_length=MAX_ENTRIES,
        description="Per-squad overrides of `default`.",
    )

    def for_squad(self, squad: str | None) -> ModelMode:
        """The configured mode of `squad`."""
        return self.squads.get(squad, self.default) if squad else self.default


class PrecisionWatch(_Strict):
    """When a squad's realised precision of automatic assignments demotes it to `suggest`.

    Realised precision is the share of a squad's automatic assignments in the window that no
    person moved to another squad. Below `target - margin` on at least `min_cases`, the
    squad drops to `suggest` until a person restores `auto`.
    """

    enabled: bool = True
    window_cases: int = Field(
        default=50, ge=1, le=10_000, description="The last N automatic assignments."
    )
    window_days: int = Field(
        default=30, ge=1, le=3650, description="Only assignments of the last N days."
    )
    min_cases: int = Field(
        default=10, ge=1, le=10_000, description="Fewest assignments in the window to judge."
    )
    margin: Probability = Field(default=0.05, description="Tolerated shortfall below target.")
    target_precision: Probability | None = Field(
        default=None,
        description="null: the target the model's thresholds were derived for (from the "
        "recommendations); a number overrides it.",
    )

    @model_validator(mode="after")
    def _judgeable(self) -> PrecisionWatch:
        if self.min_cases > self.window_cases:
            raise ValueError(
                f"min_cases ({self.min_cases}) above window_cases ({self.window_cases}): "
                "no squad could ever be judged"
            )
        return self


class MajorIncident(_Strict):
    """Signals that make a case a major incident (always escalated)."""

    priorities: list[Priority] = Field(
        default_factory=lambda: [Priority.P1], max_length=len(Priority)
    )
    keywords: list[Phrase] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Phrases matched as whole words, case-insensitive, in title/description.",
    )
    tags: list[Phrase] = Field(
        default_factory=list,
        max_length=MAX_ENTRIES,
        description="Case tags (case-insensitive) that signal customer-wide impact.",
    )


class SwarmRules(_Strict):
    """Limits of a swarm."""

    max_squads: int = Field(default=4, ge=1, le=50, description="Cap on squads invited.")


class Policy(_Strict):
    """A validated routing policy."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="RoutingPolicy",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://support-triage.example/schemas/routing-policy.schema.json",
        },
    )

    version: Literal[1] = Field(description="Policy format version.")
    name: str = Field(min_length=1, max_length=100)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    modes: Modes = Field(default_factory=Modes)
    precision_watch: PrecisionWatch = Field(default_factory=PrecisionWatch)
    cross_squad_margin: Probability = Field(
        default=0.1, description="Top candidates within this probability span squads."
    )
    major_incident: MajorIncident = Field(default_factory=MajorIncident)
    ack_deadlines: dict[Priority, Duration] = Field(
        description="Time a squad has to acknowledge, for every priority."
    )
    swarm: SwarmRules = Field(default_factory=SwarmRules)

    @field_validator("ack_deadlines")
    @classmethod
    def _every_priority_has_deadline(
        cls, value: dict[Priority, timedelta]
    ) -> dict[Priority, timedelta]:
        missing = [p.value for p in Priority if p not in value]
        if missing:
            raise ValueError(f"ack_deadlines misses priorities {missing}")
        return value

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: equal policies share a digest."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def ack_deadline(self, priority: Priority, now: datetime) -> datetime:
        """When a case of `priority` assigned at `now` must be acknowledged."""
        return now + self.ack_deadlines[priority]

    def unknown_squads(self, catalogue: Catalogue) -> list[str]:
        """Squads with a threshold or mode override that the catalogue does not know, sorted."""
        named = set(self.thresholds.squads) | set(self.modes.squads)
        return sorted(s for s in named if s not in catalogue.squads)


def _issues(exc: ValidationError) -> list[PolicyIssue]:
    return [
        PolicyIssue(".".join(str(p) for p in err["loc"]) or "(root)", err["msg"])
        for err in exc.errors(include_url=False)
    ]


class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses aliases (`*name`), the way to a billion laughs."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a policy", event.start_mark
            )
        return super().compose_node(parent, index)


def parse_policy(text: str, source: str = "") -> Policy:
    """Validate a policy from YAML text.

    Blocking (CPU-bound for large documents): call it in a worker thread from async code.

    Args:
        text: The YAML document.
        source: Where it came from, for error messages.

    Returns:
        The policy.

    Raises:
        PolicyError: Too large, invalid YAML (aliases included), not a mapping, or any field
            invalid.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_POLICY_BYTES:
        issue = PolicyIssue(
            "(root)", f"the policy is {size} bytes; the limit is {MAX_POLICY_BYTES}"
        )
        raise PolicyError([issue], source)
    try:
        data: Any = yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise PolicyError([PolicyIssue("(root)", f"invalid YAML: {exc}")], source) from exc
    if not isinstance(data, dict):
        raise PolicyError([PolicyIssue("(root)", "the policy must be a YAML mapping")], source)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_issues(exc), source) from exc


def load_policy(path: str | Path) -> Policy:
    """Load and validate a policy file.

    Raises:
        PolicyError: The file cannot be read or the policy is invalid.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([PolicyIssue("(file)", f"cannot read: {exc}")], str(file)) from exc
    return parse_policy(text, str(file))


def default_policy() -> Policy:
    """The policy shipped with the router (`router/default_policy.yaml`)."""
    resource = resources.files("router").joinpath("default_policy.yaml")
    return parse_policy(resource.read_text(encoding="utf-8"), "router/default_policy.yaml")


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy file, as committed under `schemas/jsonschema/`."""
    return Policy.model_json_schema(mode="validation")


class PolicyHolder:
    """Holds the current policy; `reload()` swaps it only if the new file validates."""

    def __init__(self, policy: Policy, path: str | Path | None = None) -> None:
        self._policy = policy
        self._path = Path(path) if path is not None else None
        self._lock = threading.Lock()

    @property
    def current(self) -> Policy:
        """The policy in force."""
        return self._policy

    def reload(self) -> bool:
        """Re-read the file; return whether the policy changed.

        Raises:
            PolicyError: The file is invalid; the current policy stays in force.
        """
        if self._path is None:
            return False
        new = load_policy(self._path)
        with self._lock:
            changed = new.digest != self._policy.digest
            self._policy = new
        return changed


if __name__ == "__main__":
    print(json.dumps(policy_json_schema(), indent=2, sort_keys=True))
