"""Alert intake: start the Alertmanager webhook and the Prometheus poller with the operator.

Every replica runs them (creating Incidents is idempotent); see docs/alerts.md.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubemedic.service.runtime import OperatorRuntime
from kubemedic.service.webhook import start_alert_ingestion


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
