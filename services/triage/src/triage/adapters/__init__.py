"""Adapters of the triage service: database, model store, Kafka, and in-memory fakes."""
