"""Entrypoints of the triage service: HTTP API and Kafka consumer (they only translate)."""
