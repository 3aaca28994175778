"""Alertmanager's webhook payload (``version: "4"``), as it arrives at ``POST /alertmanager``.

Reference: Alertmanager ``notify/webhook`` and ``template.Data``::

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0, "status": "firing|resolved",
     "receiver": "...", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
     "externalURL": "...",
     "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL",
                 "fingerprint"}]}

Why these models ignore unknown fields (unlike spec models, which forbid them): the payload
is written by another program that adds fields between releases (``truncatedAlerts`` came in
0.22). Rejecting an Alertmanager upgrade's new field would make it retry forever and lose
every alert; a field we do not know cannot change what we do with the ones we do know.
What *is* checked is everything we use, so a body that is not Alertmanager's is answered
400 with the field named.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

#: The only payload version Alertmanager has sent since 0.9 (2017).
WEBHOOK_VERSION = "4"
#: ``startsAt``/``endsAt`` of Go's zero ``time.Time``: Alertmanager sends it for "not set".
_GO_ZERO_YEAR = 1

LabelName = Annotated[str, Field(min_length=1, max_length=1024)]


class _WebhookModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class WebhookAlert(_WebhookModel):
    """One alert of a notification."""

    status: Literal["firing", "resolved"]
    labels: dict[LabelName, str]
    annotations: dict[LabelName, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[0-9a-f]+$",
        description="Alertmanager's hash of the labels: 16 lowercase hex digits",
    )

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _zero_time_is_unset(cls, value: datetime | None) -> datetime | None:
        # NB: Alertmanager writes Go's zero time ("0001-01-01T00:00:00Z") as the endsAt of
        # an alert that still fires; it means "unset", not "ended two thousand years ago".
        if value is not None and value.year == _GO_ZERO_YEAR:
            return None
        return value


class WebhookPayload(_WebhookModel):
    """A whole notification: one alert group, firing or resolved."""

    version: Literal["4"]
    group_key: str = Field(max_length=4096)
    truncated_alerts: int = Field(default=0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[LabelName, str] = Field(default_factory=dict)
    common_labels: dict[LabelName, str] = Field(default_factory=dict)
    common_annotations: dict[LabelName, str] = Field(default_factory=dict)
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[WebhookAlert]
