"""The Incident client: every read and write of Incidents goes through :class:`IncidentStore`.

Used by the alert path (:mod:`kubemedic.service.alerts`), the leader's loop and remediation
(status), and the CLI (spec). Objects are plain dicts, exactly as the API server returns them.

Why each call looks the way it does:

- ``create`` treats 409 AlreadyExists as success and returns the object that exists: the
  name is derived from the alert, so a 409 means another notification (or another replica)
  was first, which is exactly the outcome we want.
- ``patch_status`` and ``patch_spec`` send ``metadata.resourceVersion`` with a JSON merge
  patch. The API server treats it as a precondition, so what was read before someone else's
  write is never written back over it (a merge patch replaces lists such as ``conditions``
  whole); :class:`~kubemedic.clients.kube.ConflictError` tells the caller to read again.
- Every write carries a field manager, so ``managedFields`` shows who changed what.
"""

from __future__ import annotations

import builtins
import logging
from typing import Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubemedic.clients.kube import (
    MERGE_PATCH,
    ConflictError,
    KubeReader,
    PatchRejectedError,
    RawObject,
    api_message,
    send_json,
)
from kubemedic.constants import API_GROUP, API_VERSION, FIELD_MANAGER, INCIDENT_PLURAL

logger = logging.getLogger(__name__)

#: The field manager of what a person changes with the CLI (approvals).
CLI_FIELD_MANAGER: Final = "kubemedic-cli"
_CONFLICT: Final = 409
_UNPROCESSABLE: Final = 422
_PAGE: Final = 500


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
        items: builtins.list[RawObject] = []
        page: str | None = None
        while True:
            query = {"limit": str(_PAGE)}
            if label_selector:
                query["labelSelector"] = label_selector
            if page:
                query["continue"] = page
            found = send_json(self.api, "GET", self.path(namespace), query=query)
            items += [
                {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": "Incident", **item}
                for item in found.get("items") or []
                if isinstance(item, dict)
            ]
            page = (found.get("metadata") or {}).get("continue")
            if not page:
                return items

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
            field_manager=FIELD_MANAGER,
            rejectable=False,
        )

    def patch_spec(
        self, namespace: str, name: str, *, spec: RawObject, resource_version: str
    ) -> RawObject:
        """Merge ``spec`` into the Incident's spec if it is still at ``resource_version``.

        Raises :class:`ConflictError` if it changed meanwhile, :class:`PatchRejectedError`
        if the API server's validation refuses it.
        """
        return self._guarded_merge(
            self.path(namespace, name),
            {"metadata": {"resourceVersion": resource_version}, "spec": spec},
            field_manager=CLI_FIELD_MANAGER,
            rejectable=True,
        )

    def _guarded_merge(
        self, path: str, body: RawObject, *, field_manager: str, rejectable: bool
    ) -> RawObject:
        try:
            return send_json(
                self.api,
                "PATCH",
                path,
                body=body,
                content_type=MERGE_PATCH,
                query={"fieldManager": field_manager},
            )
        except ApiException as exc:
            if exc.status == _CONFLICT:
                raise ConflictError(api_message(exc)) from exc
            if rejectable and exc.status == _UNPROCESSABLE:
                raise PatchRejectedError(exc.status, api_message(exc)) from exc
            raise
