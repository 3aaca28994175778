"""The operator with its Alertmanager webhook, and webhook payloads, for tests, bench and demo.

Payloads are built the way Alertmanager 0.25 builds them (``notify/webhook``), with
fingerprints computed exactly as Alertmanager computes them (so the package must be
importable: ``operator/`` on ``sys.path``, as pytest's ``pythonpath`` has it).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubemedic.domain.alert_mapping import label_fingerprint
from localcluster import LocalCluster, free_port
from localcluster import wait_until as wait_for
from operator_process import OperatorProcess, http_ok, start_operator


@dataclass
class AlertOperator:
    """The operator process with its Alertmanager webhook enabled."""

    process: OperatorProcess
    webhook_port: int
    token: str
    token_file: Path

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}/alertmanager"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.process.metrics_port}/metrics"

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)

    def post(
        self, body: object, *, token: str | None = None, raw: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST to the webhook (with our token unless told otherwise); status and JSON body."""
        return post_json(self.webhook_url, body, token=self.token if token is None else token,
                         raw=raw)  # fmt: skip


@contextlib.contextmanager
def webhook_operator(
    cluster: LocalCluster,
    workdir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    namespaces: Sequence[str] | None = None,
) -> Iterator[AlertOperator]:
    """``kubemedic run`` with the webhook on a free loopback port and a fresh token."""
    workdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    token_file = workdir / "webhook-token"
    token_file.write_text(token + "\n")
    port = free_port()
    env = {
        "KUBEMEDIC_BIND_ADDRESS": "127.0.0.1",
        "KUBEMEDIC_WEBHOOK_PORT": str(port),
        "KUBEMEDIC_WEBHOOK_TOKEN_FILE": str(token_file),
        **(extra_env or {}),
    }
    with start_operator(cluster, workdir, extra_env=env, namespaces=namespaces) as process:
        wait_for(
            lambda: http_ok(f"http://127.0.0.1:{port}/healthz"),
            timeout=30,
            what="the webhook's /healthz",
            describe=process.log_tail,
        )
        yield AlertOperator(process=process, webhook_port=port, token=token, token_file=token_file)


def post_json(
    url: str, body: object, *, token: str | None, raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return int(resp.status), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, {"raw": text.decode(errors="replace")}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def am_alert(
    labels: Mapping[str, str],
    *,
    status: str = "firing",
    annotations: Mapping[str, str] | None = None,
    starts_at: datetime,
    ends_at: datetime | None = None,
) -> dict[str, Any]:
    """One alert of a webhook payload (Go's zero time for an unset ``endsAt``)."""
    return {
        "status": status,
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at) if ends_at else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.test/graph?g0.expr=up",
        "fingerprint": label_fingerprint(labels),
    }


def am_payload(alerts: Sequence[dict[str, Any]], *, group_key: str = "{}:{}") -> dict[str, Any]:
    """A version 4 notification holding ``alerts``."""
    firing = any(a["status"] == "firing" for a in alerts)
    common = dict(alerts[0]["labels"]) if alerts else {}
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert["labels"].get(k) == v}
    return {
        "receiver": "kubemedic",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test",
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
    }
