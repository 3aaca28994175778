"""Writing Incidents: idempotent create, paged label-selector list, guarded status patch.

Used by the alert path (:mod:`kubemedic.service.alerts`); kopf handlers write status
through kopf's own patch instead.

Why each call looks the way it does:

- ``create`` treats 409 AlreadyExists as success and returns the object that exists: the
  name is derived from the alert, so a 409 means another notification (or another replica)
  was first, which is exactly the outcome we want.
- ``patch_status`` sends ``metadata.resourceVersion`` with the merge patch. The API server
  treats it as a precondition, so a status read before someone else's write is never
  written back over it (a JSON merge patch replaces ``conditions`` as a whole list);
  :class:`ConflictError` tells the caller to read again and retry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL

logger = logging.getLogger(__name__)

RawObject = dict[str, Any]
REQUEST_TIMEOUT_SECONDS: Final = 15.0
_CONFLICT: Final = 409
_NOT_FOUND: Final = 404


class ConflictError(RuntimeError):
    """The object changed since it was read (HTTP 409 on a guarded write)."""


class NamespaceNotFoundError(LookupError):
    """An Incident could not be created: its namespace does not exist (HTTP 404)."""


def load_api_client(kubeconfig: str | None = None, *, pool_size: int = 16) -> client.ApiClient:
    """An API client (explicit kubeconfig, else in-cluster, else ``$KUBECONFIG``) whose
    connection pool fits ``pool_size`` concurrent requests.

    NB: the client's default pool holds ``5 * cpu_count`` connections; more threads than
    that log "Connection pool is full" and reconnect for every request.
    """
    configuration = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


class IncidentStore:
    """Incident reads and writes through ``CustomObjectsApi`` (objects as plain dicts)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = client.CustomObjectsApi(api)

    def get(self, namespace: str, name: str) -> RawObject | None:
        """The Incident, or ``None`` if it does not exist."""
        try:
            obj: RawObject = self.api.get_namespaced_custom_object(
                API_GROUP,
                API_VERSION,
                namespace,
                INCIDENT_PLURAL,
                name,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as exc:
            if exc.status == _NOT_FOUND:
                return None
            raise
        return obj

    def list_all(
        self, *, label_selector: str, namespaces: Sequence[str] = (), page: int = 500
    ) -> list[RawObject]:
        """Every Incident matching ``label_selector``, in ``namespaces`` (empty: all), paged."""
        found: list[RawObject] = []
        scopes: Sequence[str | None] = namespaces or (None,)
        for namespace in scopes:
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {
                    "label_selector": label_selector,
                    "limit": page,
                    "_request_timeout": REQUEST_TIMEOUT_SECONDS,
                }
                if token:
                    kwargs["_continue"] = token
                if namespace is None:
                    chunk = self.api.list_cluster_custom_object(
                        API_GROUP, API_VERSION, INCIDENT_PLURAL, **kwargs
                    )
                else:
                    chunk = self.api.list_namespaced_custom_object(
                        API_GROUP, API_VERSION, namespace, INCIDENT_PLURAL, **kwargs
                    )
                found.extend(i for i in chunk.get("items") or [] if isinstance(i, dict))
                token = (chunk.get("metadata") or {}).get("continue")
                if not token:
                    break
        return found

    def create(self, body: RawObject) -> tuple[RawObject, bool]:
        """Create ``body``; ``(object, True)``, or ``(existing, False)`` if the name is taken."""
        namespace = str(body["metadata"]["namespace"])
        name = str(body["metadata"]["name"])
        try:
            created: RawObject = self.api.create_namespaced_custom_object(
                API_GROUP,
                API_VERSION,
                namespace,
                INCIDENT_PLURAL,
                body,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as exc:
            if exc.status == _NOT_FOUND:
                msg = (
                    f"namespace '{namespace}' does not exist (or the Incident CRD is not installed)"
                )
                raise NamespaceNotFoundError(msg) from exc
            if exc.status != _CONFLICT:
                raise
        else:
            return created, True
        existing = self.get(namespace, name)
        if existing is None:
            # Deleted between our 409 and our read: it existed, which is all we need to know.
            logger.info("Incident %s/%s vanished right after a 409", namespace, name)
            return body, False
        return existing, False

    def patch_status(
        self, namespace: str, name: str, *, status: RawObject, resource_version: str
    ) -> RawObject:
        """Merge ``status`` into the Incident's status if it is still at ``resource_version``.

        Raises :class:`ConflictError` if it changed meanwhile.
        """
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        try:
            patched: RawObject = self.api.patch_namespaced_custom_object_status(
                API_GROUP,
                API_VERSION,
                namespace,
                INCIDENT_PLURAL,
                name,
                body,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as exc:
            if exc.status == _CONFLICT:
                msg = (
                    f"Incident {namespace}/{name} changed since resourceVersion {resource_version}"
                )
                raise ConflictError(msg) from exc
            raise
        return patched
