"""The Incident client: every read and write of Incidents goes through :class:`IncidentStore`.

Used by the alert path (:mod:`kubemedic.service.alert_intake`), the leader's loop and remediation
(status), and the CLI (reads). Objects are plain dicts, exactly as the API server returns them.

Why each call looks the way it does:

- ``create`` treats 409 AlreadyExists as success and returns the object that exists: the
  name is derived from the alert, so a 409 means another notification (or another replica)
  was first, which is exactly the outcome we want.
- ``patch_status`` sends ``metadata.resourceVersion`` with a JSON merge
  patch. The API server treats it as a precondition, so what was read before someone else's
  write is never written back over it (a merge patch replaces lists such as ``conditions``
  whole); :class:`~kubemedic.clients.kube.ConflictError` tells the caller to read again.
- Every write carries a field manager, so ``managedFields`` shows who changed what.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from typing import Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubemedic.clients.kube import (
    MERGE_PATCH,
    ConflictError,
    KubeReader,
    RawObject,
    api_message,
    send_json,
)
from kubemedic.constants import API_GROUP, API_VERSION, FIELD_MANAGER, INCIDENT_PLURAL

logger = logging.getLogger(__name__)

_CONFLICT: Final = 409
_NOT_FOUND: Final = 404
_UNPROCESSABLE: Final = 422
_PAGE: Final = 500


class NamespaceNotFoundError(LookupError):
    """An Incident could not be created: its namespace does not exist (HTTP 404)."""


class IncidentStore:
    """Incident reads and writes (objects as plain dicts)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.reader = KubeReader(api)

    @staticmethod
    def path(namespace: str, name: str | None = None) -> str:
        base = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{INCIDENT_PLURAL}"
        return f"{base}/{name}" if name else base

    def get(self, namespace: str, name: str) -> RawObject | None:
        """The Incident, or ``None`` if it does not exist."""
        return self.reader.get(self.path(namespace, name))

    def list(
        self, namespace: str, *, label_selector: str | None = None
    ) -> builtins.list[RawObject]:
        """Incidents in ``namespace`` (matching ``label_selector``), every page."""
        return self._pages(self.path(namespace), label_selector)

    def _pages(self, path: str, label_selector: str | None) -> builtins.list[RawObject]:
        items: builtins.list[RawObject] = []
        page: str | None = None
        while True:
            query = {"limit": str(_PAGE)}
            if label_selector:
                query["labelSelector"] = label_selector
            if page:
                query["continue"] = page
            found = send_json(self.api, "GET", path, query=query)
            items += [
                {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "Incident", **item}
                for item in found.get("items") or []
                if isinstance(item, dict)
            ]
            page = (found.get("metadata") or {}).get("continue")
            if not page:
                return items

    def list_all(
        self, *, label_selector: str, namespaces: Sequence[str] = ()
    ) -> builtins.list[RawObject]:
        """Every Incident matching ``label_selector`` in ``namespaces`` (empty: all of them)."""
        if namespaces:
            return [
                item
                for namespace in namespaces
                for item in self.list(namespace, label_selector=label_selector)
            ]
        return self._pages(f"/apis/{API_GROUP}/{API_VERSION}/{INCIDENT_PLURAL}", label_selector)

    def create(self, body: RawObject) -> tuple[RawObject, bool]:
        """Create ``body``; ``(object, True)``, or ``(existing, False)`` if the name is taken."""
        namespace = str(body["metadata"]["namespace"])
        name = str(body["metadata"]["name"])
        try:
            created = send_json(
                self.api,
                "POST",
                self.path(namespace),
                body=body,
                query={"fieldManager": FIELD_MANAGER},
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
        return self._guarded_merge(
            f"{self.path(namespace, name)}/status",
            {"metadata": {"resourceVersion": resource_version}, "status": status},
        )

    def _guarded_merge(self, path: str, body: RawObject) -> RawObject:
        try:
            return send_json(
                self.api,
                "PATCH",
                path,
                body=body,
                content_type=MERGE_PATCH,
                query={"fieldManager": FIELD_MANAGER},
            )
        except ApiException as exc:
            if exc.status == _CONFLICT:
                raise ConflictError(api_message(exc)) from exc
            raise
