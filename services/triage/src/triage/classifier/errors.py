"""Errors raised by the classifier package, each with a stable `code`.

```
ClassifierError                 code: "classifier"
├── HistoryError                code: "history_invalid"   (unreadable or malformed history CSV)
├── TrainingError               code: "training_invalid"  (nothing usable to learn from)
└── ModelLoadError              code: "missing" | "corrupt" | "outdated_format"
                                      | "hash_mismatch" | "sklearn_version_mismatch"
                                      | "unknown_squads" | "unsafe_path"
```
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Base of every classifier error; `code` is stable, the message is for people."""

    code: str = "classifier"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class HistoryError(ClassifierError):
    """A history CSV cannot be read (missing file, missing columns, bad encoding)."""

    code = "history_invalid"


class TrainingError(ClassifierError):
    """Training cannot proceed (no labelled examples, no owned components, ...)."""

    code = "training_invalid"


class ModelLoadError(ClassifierError):
    """A model artifact was refused; `code` tells why (see the module docstring)."""

    code = "corrupt"
