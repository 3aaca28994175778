"""IncidentApprovals on the API server, and who the caller is.

- :meth:`ApprovalClient.whoami` asks the API server (a SelfSubjectReview, what
  ``kubectl auth whoami`` shows) instead of trusting a flag or ``$USER``: admission compares
  ``spec.approver`` with the same name.
- :meth:`ApprovalClient.create` creates a decision; refusals by RBAC (403) or admission (422,
  or 403 with the policy's message) come back as :class:`ApprovalRefusedError` with the API
  server's own words.
- The operator lists an Incident's approvals and records, in their status subresource, when
  it first saw each one and when it was spent.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubemedic.clients.kube import MERGE_PATCH, KubeReader, RawObject, send_json
from kubemedic.constants import API_GROUP, API_VERSION, APPROVAL_PLURAL, FIELD_MANAGER

logger = logging.getLogger(__name__)

SELF_SUBJECT_REVIEW: Final = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


class ApprovalRefusedError(RuntimeError):
    """The API server refused to create the approval (RBAC or admission)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or b"{}").get("message") or exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


class ApprovalClient:
    """Reads and writes of IncidentApprovals, and the caller's identity."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.reader = KubeReader(api)

    def _call(
        self, method: str, path: str, *, body: Any, content_type: str = "application/json"
    ) -> RawObject:
        return send_json(
            self.api,
            method,
            path,
            body=body,
            content_type=content_type,
            query={"fieldManager": FIELD_MANAGER},
        )

    @staticmethod
    def _path(namespace: str, name: str | None = None) -> str:
        base = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{APPROVAL_PLURAL}"
        return f"{base}/{name}" if name else base

    def whoami(self) -> str:
        """The authenticated user name, as the API server (and so admission) sees it."""
        review = self._call(
            "POST",
            SELF_SUBJECT_REVIEW,
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        username = ((review.get("status") or {}).get("userInfo") or {}).get("username")
        if not username:
            raise RuntimeError("the API server did not say who you are (SelfSubjectReview)")
        return str(username)

    def create(self, namespace: str, body: RawObject) -> RawObject:
        """Create an IncidentApproval; ApprovalRefusedError with the server's reason."""
        try:
            return self._call("POST", self._path(namespace), body=body)
        except ApiException as exc:
            if exc.status == 404:
                raise ApprovalRefusedError(
                    404,
                    f"{_message(exc)}: the IncidentApproval kind is not installed; install "
                    "the CRDs and admission policies with `kubectl apply -f crds/`",
                ) from exc
            if exc.status in (400, 403, 409, 422):
                raise ApprovalRefusedError(exc.status, _message(exc)) from exc
            raise

    def list_for(self, namespace: str) -> list[RawObject]:
        """Every IncidentApproval in ``namespace`` (the caller filters by Incident)."""
        return self.reader.list(
            self._path(namespace),
            api_version=f"{API_GROUP}/{API_VERSION}",
            kind="IncidentApproval",
        )

    def write_status(self, namespace: str, name: str, *, status: dict[str, Any]) -> None:
        """Merge ``status`` into the approval's status (the operator's own record).

        NB: a deleted approval is not an error: there is nothing left to record on.
        """
        try:
            self._call(
                "PATCH",
                self._path(namespace, name) + "/status",
                body={"status": status},
                content_type=MERGE_PATCH,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            logger.info(
                "IncidentApproval %s/%s is gone; its outcome is not recorded", namespace, name
            )
