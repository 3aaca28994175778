"""Runbook knowledge from ConfigMaps in the namespaces the settings name.

A ConfigMap labelled ``kubemedic.dev/runbook=true`` holds runbooks: every data key is one
markdown document, the annotation ``kubemedic.dev/categories`` (comma-separated) names the
categories it is about. Example::

    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: runbook-memory
      namespace: kubemedic
      labels: {kubemedic.dev/runbook: "true"}
      annotations: {kubemedic.dev/categories: "OOMKilled, Evicted"}
    data:
      oom.md: |
        # Our JVM services and OOMKilled
        ...

The list is cached for ``ttl_seconds`` (runbooks change rarely; an incident storm must not
become a ConfigMap list storm). A failed list keeps the last good copy. Runbooks go into every
prompt's trusted prefix, so they are read only from the operator's namespace and the
namespaces named in ``KUBEMEDIC_RUNBOOK_KNOWLEDGE_NAMESPACES``, never from tenants'
namespaces by default. The operator needs ``list`` on ``configmaps`` there (the Helm chart
grants it in its own namespace).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from kubemedic.clients.kube import KubeReader
from kubemedic.constants import RUNBOOK_CATEGORIES_ANNOTATION, RUNBOOK_LABEL
from kubemedic.domain.knowledge import KnowledgeDoc, docs_from_configmaps

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_TTL_SECONDS: Final = 60.0


def operator_namespace(configured: str | None = None) -> str | None:
    """The namespace the operator runs in: configured, ``$POD_NAMESPACE``, or the
    service account's namespace file; None outside a cluster."""
    if configured:
        return configured
    from_env = os.environ.get("POD_NAMESPACE")
    if from_env:
        return from_env
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


class ConfigMapKnowledge:
    """Runbook documents from labelled ConfigMaps, cached."""

    def __init__(
        self,
        reader: KubeReader,
        *,
        namespace: str,
        extra_namespaces: Sequence[str] = (),
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.namespace = namespace
        self.namespaces = tuple(dict.fromkeys([namespace, *extra_namespaces]))
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._docs: tuple[KnowledgeDoc, ...] = ()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def documents(self) -> tuple[KnowledgeDoc, ...]:
        async with self._lock:
            now = self._clock()
            if self._loaded_at is not None and now - self._loaded_at < self.ttl_seconds:
                return self._docs
            items = []
            try:
                for namespace in self.namespaces:
                    items += await asyncio.to_thread(
                        self.reader.list,
                        f"/api/v1/namespaces/{namespace}/configmaps",
                        api_version="v1",
                        kind="ConfigMap",
                        label_selector=f"{RUNBOOK_LABEL}=true",
                    )
            except Exception as exc:  # noqa: BLE001 - any API failure: keep the last copy
                logger.warning(
                    "cannot list runbook ConfigMaps in %s (keeping %d cached): %s",
                    ", ".join(self.namespaces),
                    len(self._docs),
                    exc,
                )
                self._loaded_at = now
                return self._docs
            self._docs = tuple(
                docs_from_configmaps(items, categories_annotation=RUNBOOK_CATEGORIES_ANNOTATION)
            )
            self._loaded_at = now
            return self._docs


__all__ = [
    "ConfigMapKnowledge",
    "operator_namespace",
]
