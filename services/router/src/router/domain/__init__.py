"""The router's pure domain: routing policy, routing decision, case lifecycle and its events,
swarms, notifications.

Nothing here performs network or database I/O (the policy loader reads one local file).
Import from the submodules:

- `router.domain.policy`    -- `Policy`, `load_policy`, `default_policy`, `policy_json_schema`
- `router.domain.decision`  -- `decide`, `RoutingDecision`
- `router.domain.lifecycle` -- `transition` (new state + domain events), `CaseState`,
                               `LifecycleStatus` and the actions
- `router.domain.events`    -- the domain events: `CaseAssigned`, `CaseEscalated`, ...
- `router.domain.swarm`     -- `Swarm`, `SwarmNote`
- `router.domain.notifications` -- `Notification` and its wording, `Target`, `targets_for`
- `router.domain.errors`    -- the exception tree with stable codes

The package does not re-export them, so `python -m router.domain.policy` runs cleanly.
"""
