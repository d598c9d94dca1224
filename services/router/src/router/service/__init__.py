"""The router's service layer: use cases over the ports (no web, Kafka or ORM imports).

- `routing`: `route_triaged` (consumer) and `sweep_ack_timeouts` (sweeper).
- `desk`: manual assignment, acknowledgement, resolution and swarm actions (their steps
  inside a transaction in `desk_steps`).
- `effects`: what each domain event causes -- lifecycle event, history entry,
  notifications, metrics -- mapped in one place (`Effects`); `notifying` queues one
  recipient's notifications.
- `queries`: the queue, case detail, swarms and the Service Delivery summary.
- `common`: `Publishing`, `CatalogueHolder`, stored <-> domain swarms.
- `errors`: the service exception tree.
"""
