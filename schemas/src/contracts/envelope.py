"""CloudEvents 1.0 envelope, and `OutboundEvent`: a CloudEvent addressed to a topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import new_event_id

SPEC_VERSION = "1.0"
JSON = "application/json"
STRUCTURED = "application/cloudevents+json"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event with a JSON `data` member."""

    model_config = ConfigDict(extra="allow")

    specversion: str = SPEC_VERSION
    id: str = Field(default_factory=new_event_id, min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = JSON
    data: Any = None

    @classmethod
    def of(
        cls, *, type: str, source: str, subject: str | None, data: BaseModel, **ext: Any
    ) -> CloudEvent:
        """Build an event whose data is a pydantic model (dumped in JSON mode)."""
        return cls(
            type=type, source=source, subject=subject, data=data.model_dump(mode="json"), **ext
        )


class OutboundEvent(NamedTuple):
    """An event to publish (through a service's outbox): topic, CloudEvent and Kafka key.

    A tuple, so `servicekit.outbox.outbox_rows` takes these as they are.
    """

    topic: str
    event: CloudEvent
    key: str
