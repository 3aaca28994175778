"""RemediationPolicies: validate each one when it changes and write its status."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from kubemedic.constants import API_GROUP, API_VERSION, POLICY_PLURAL
from kubemedic.service.policies import observe_policy
from kubemedic.service.runtime import OperatorRuntime

logger = logging.getLogger(__name__)


@kopf.on.event(API_GROUP, API_VERSION, POLICY_PLURAL)
async def policy_changed(
    event: kopf.RawEvent, body: kopf.Body, memo: OperatorRuntime, **_: Any
) -> None:
    """Every replica checks every policy it sees; see service/policies.py for why."""
    if event.get("type") == "DELETED":
        return
    try:
        await asyncio.to_thread(
            observe_policy,
            memo.policies,
            dict(body),
            operator_namespace=memo.settings.operator_namespace,
            now=datetime.now(UTC),
        )
    except ApiException as exc:
        # NB: deleted or changed meanwhile: the next watch event checks it again.
        logger.info("RemediationPolicy status not written (%s %s)", exc.status, exc.reason)
