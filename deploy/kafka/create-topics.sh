#!/bin/bash
# Creates the support-triage topics (idempotent). Used by the compose `kafka-init` service.
# Env: BOOTSTRAP (default kafka:9092), PARTITIONS (default 6), REPLICATION (default 1).
set -euo pipefail

bootstrap="${BOOTSTRAP:-kafka:9092}"
partitions="${PARTITIONS:-6}"
replication="${REPLICATION:-1}"
topics_bin="/opt/kafka/bin/kafka-topics.sh"

for topic in \
    support.case.received.v1 \
    support.case.triaged.v1 \
    support.case.lifecycle.v1 \
    support.case.deadletter.v1; do
    "$topics_bin" --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$topic" --partitions "$partitions" --replication-factor "$replication"
done
"$topics_bin" --bootstrap-server "$bootstrap" --describe
