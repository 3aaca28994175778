"""Alert intake: start the Alertmanager webhook and the Prometheus poller with the operator.

Every replica runs them (creating Incidents is idempotent); see docs/alerts.md.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubemedic.service.webhook import AlertIngestion, start_alert_ingestion
from kubemedic.settings import OperatorSettings

MEMO_KEY = "alert_ingestion"


@kopf.on.startup()
async def start_alerts(memo: kopf.Memo, **_: Any) -> None:
    settings: OperatorSettings = memo.setdefault("settings", OperatorSettings())
    try:
        memo[MEMO_KEY] = await start_alert_ingestion(settings)
    except (ValueError, OSError) as exc:
        # A setting that cannot work stops the operator with the reason, not a retry loop.
        raise kopf.PermanentError(f"alert intake: {exc}") from exc


@kopf.on.cleanup()
async def stop_alerts(memo: kopf.Memo, **_: Any) -> None:
    ingestion: AlertIngestion | None = memo.get(MEMO_KEY)
    if ingestion is not None:
        await ingestion.stop()
