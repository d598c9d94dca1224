"""Errors of the triage service, each with a stable `code`.

TriageError
├── CaseNotFound            case_not_found         (HTTP 404)
├── IdempotencyConflict     idempotency_conflict   (HTTP 409)
├── ModelRefused            model_refused          (HTTP 409; the old model stays)
├── RetrainRunning          retrain_running        (HTTP 409; one retrain at a time)
├── RetrainJobNotFound      retrain_job_not_found  (HTTP 404)
├── ModelVersionNotFound    model_version_not_found (HTTP 404)
└── TrainingFailed          training_failed        (a retrain job ends `failed` with it)

The HTTP status and title of each code are registered once, in `contracts.problems.PROBLEMS`;
the HTTP edge answers every `TriageError` through one handler (`servicekit.http`). An invalid
catalogue is the contracts' `CatalogueError` (422 `invalid_catalogue`) and an unknown paging
cursor servicekit's `InvalidCursor` (422 `invalid_cursor`), as in the router.
"""

from __future__ import annotations


class TriageError(Exception):
    """Base of every triage error."""

    code = "triage_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CaseNotFound(TriageError):
    """No case has this id."""

    code = "case_not_found"


class IdempotencyConflict(TriageError):
    """The idempotency key (or external_ref) was used before with a different body (on
    Kafka, the record is dead-lettered with the reason `external_ref_conflict`)."""

    code = "idempotency_conflict"


class ModelRefused(TriageError):
    """A model could not be loaded; `reason` is the loader's code (also the message's start)."""

    code = "model_refused"

    def __init__(self, message: str, *, reason: str = "model_refused") -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class RetrainRunning(TriageError):
    """A retrain was requested while another one runs; `job_id` names the running one."""

    code = "retrain_running"

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id

    @property
    def headers(self) -> dict[str, str]:
        """`Location` of the running job (the problem response carries it)."""
        return {"Location": f"/v1/model/retrain/{self.job_id}"}


class RetrainJobNotFound(TriageError):
    """No retrain job has this id."""

    code = "retrain_job_not_found"


class ModelVersionNotFound(TriageError):
    """The model registry has no version of this name (or no artifact for it any more)."""

    code = "model_version_not_found"

    @classmethod
    def pruned(cls, version: str) -> ModelVersionNotFound:
        """A version whose artifact the retention rule deleted (its record stays)."""
        return cls(
            f"model version {version} was pruned (MODEL_KEEP_VERSIONS): its artifact is "
            "deleted; its record stays in the registry"
        )


class RetrainLeaseLost(TriageError):
    """A retrain reached its promotion without holding the retrain lease any more (its
    process was stopping, or the lease lapsed and another job took it): it is not promoted."""

    code = "retrain_lease_lost"


class TrainingFailed(TriageError):
    """Training could not produce a model; `reason` is the classifier's code."""

    code = "training_failed"

    def __init__(self, message: str, *, reason: str = "training_failed") -> None:
        super().__init__(message)
        self.reason = reason
