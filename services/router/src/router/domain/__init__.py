"""The router's pure domain: routing policy, routing decision, case lifecycle, swarms.

Nothing here performs network or database I/O (the policy loader reads one local file).
Import from the submodules:

- `router.domain.policy`    -- `Policy`, `load_policy`, `default_policy`, `policy_json_schema`
- `router.domain.decision`  -- `decide`, `RoutingDecision`
- `router.domain.lifecycle` -- `transition`, `CaseState`, `LifecycleStatus` and the actions
- `router.domain.swarm`     -- `Swarm`, `SwarmNote`
- `router.domain.errors`    -- the exception tree with stable codes

The package does not re-export them, so `python -m router.domain.policy` runs cleanly.
"""
