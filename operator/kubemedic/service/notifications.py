"""Notify about an Incident's state change: decide, send, and record what was sent.

Handlers call :func:`notify_transition` with the status they read and the status they are
about to write, and write what it returns: the new status with ``status.notifications``
updated. The decision (which event, whether the cooldown allows it) is pure
(:mod:`kubemedic.domain.notification_rules`); the sending is :class:`~kubemedic.clients.webhook_notifier.WebhookNotifier`.

Delivery is at least once per event: the record is written with the status, so if that
write fails after a message went out, the handler's retry sends it again. The payload's
``id`` is the same both times, for receivers that deduplicate.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kubemedic import metrics
from kubemedic.clients.webhook_notifier import NotifyFormat, WebhookNotifier
from kubemedic.domain.notification_rules import (
    build_payload,
    event_for_transition,
    record_failed,
    record_sent,
    should_send,
)
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.settings import OperatorSettings

logger = logging.getLogger(__name__)


def build_notifier(settings: OperatorSettings) -> WebhookNotifier | None:
    """The notifier the settings ask for, or ``None`` when ``notify_url`` is empty.

    Raises ``ValueError`` for a malformed URL, so ``kubemedic run`` fails at start-up
    rather than at the first incident.
    """
    url = settings.notify_url.get_secret_value().strip()
    if not url:
        return None
    return WebhookNotifier(
        url,
        format=NotifyFormat(settings.notify_format),
        token_file=settings.notify_token_file,
        timeout_seconds=settings.notify_timeout_seconds,
    )


async def notify_transition(
    notifier: WebhookNotifier | None,
    *,
    incident_name: str,
    incident_namespace: str,
    incident_uid: str,
    spec: IncidentSpec,
    old_status: IncidentStatus,
    new_status: IncidentStatus,
    now: datetime,
    cooldown_seconds: float,
    console_url: str | None = None,
) -> IncidentStatus:
    """``new_status``, with ``notifications`` updated if a message was sent or failed.

    Unchanged when notifications are off, the change announces nothing, or the cooldown
    holds the event back. Never raises: a failed delivery is recorded, not retried.
    """
    if notifier is None:
        return new_status
    event = event_for_transition(
        old_status.phase,
        new_status.phase,
        old_conditions=old_status.conditions,
        new_conditions=new_status.conditions,
    )
    if event is None:
        return new_status
    # NB: a handler that builds its new status from scratch may not carry the record over.
    record = (
        new_status.notifications
        if new_status.notifications is not None
        else old_status.notifications
    )
    if not should_send(record, event=event, now=now, cooldown_seconds=cooldown_seconds):
        metrics.NOTIFICATIONS.labels(event=event.value, outcome="suppressed").inc()
        logger.debug(
            "notification %s for %s/%s held back", event.value, incident_namespace, incident_name
        )
        return new_status
    payload = build_payload(
        incident_name=incident_name,
        incident_namespace=incident_namespace,
        incident_uid=incident_uid,
        spec=spec,
        status=new_status,
        event=event,
        now=now,
        console_url=console_url,
    )
    result = await notifier.send(payload)
    if result.ok:
        metrics.NOTIFICATIONS.labels(event=event.value, outcome="sent").inc()
        record = record_sent(record, event=event, now=now)
    else:
        metrics.NOTIFICATIONS.labels(event=event.value, outcome="failed").inc()
        logger.warning(
            "notification %s for %s/%s to %s failed: %s",
            event.value,
            incident_namespace,
            incident_name,
            notifier.display_url,
            result.reason,
        )
        record = record_failed(record, error=result.reason)
    return new_status.model_copy(update={"notifications": record})


__all__ = ["build_notifier", "notify_transition"]
