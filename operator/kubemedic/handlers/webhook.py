"""Alert intake: start the Alertmanager webhook and the Prometheus poller with the operator,
and keep the intake's index of alert Incidents current from the operator's watch.

Every replica runs them (creating Incidents is idempotent); see docs/alerts.md.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL
from kubemedic.domain.alert_mapping import SOURCE_ALERT, SOURCE_LABEL
from kubemedic.handlers.alertmanager_server import start_alert_ingestion
from kubemedic.service.runtime import OperatorRuntime


# NB: an event handler, not a change handler: kopf keeps no progress annotations and adds no
# finalizer for it, and it rides the Incident watch the operator keeps anyway. Async so it
# runs on the event loop (kopf runs sync handlers in threads): the index is not thread-safe.
@kopf.on.event(API_GROUP, API_VERSION, INCIDENT_PLURAL, labels={SOURCE_LABEL: SOURCE_ALERT})
async def index_alert_incident(
    event: kopf.RawEvent, body: kopf.Body, memo: OperatorRuntime, **_: Any
) -> None:
    """Keep the alert intake's index (dedup, cooldown, rate limits) current from the watch."""
    if memo.alert_ingestion is not None:
        memo.alert_ingestion.ingestor.observe_event(event.get("type"), dict(body))


@kopf.on.startup()
async def start_alerts(memo: OperatorRuntime, **_: Any) -> None:
    try:
        memo.alert_ingestion = await start_alert_ingestion(memo.settings)
    except (ValueError, OSError) as exc:
        # A setting that cannot work stops the operator with the reason, not a retry loop.
        raise kopf.PermanentError(f"alert intake: {exc}") from exc


@kopf.on.cleanup()
async def stop_alerts(memo: OperatorRuntime, **_: Any) -> None:
    if memo.alert_ingestion is not None:
        await memo.alert_ingestion.stop()
