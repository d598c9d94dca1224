"""Entrypoints of the router: the HTTP API and the Kafka consumer (they only translate)."""
