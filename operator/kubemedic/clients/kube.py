"""Raw access to the Kubernetes API: objects exactly as the API server returns them.

NB: the typed models of the ``kubernetes`` package drop fields they do not know and
rename the rest; evidence must be what the API returned, so every read here goes
through ``ApiClient.call_api`` with ``_preload_content=False`` and plain JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS: Final = 15.0
LOG_TIMEOUT_SECONDS: Final = 5.0

#: A Kubernetes object exactly as the API server returned it.
RawObject = dict[str, Any]
JSON_PATCH: Final = "application/json-patch+json"
MERGE_PATCH: Final = "application/merge-patch+json"


class ConflictError(RuntimeError):
    """The object changed since it was read (HTTP 409 on a guarded write): read again, retry."""


class PatchRejectedError(RuntimeError):
    """The API server refused a write (a failed precondition, validation, admission)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def api_message(exc: ApiException) -> str:
    """The API server's own explanation of an error (its Status ``message``)."""
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


class KubeReader:
    """Read-only raw access: get, list (with apiVersion/kind filled in), logs."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def _request(
        self, path: str, *, query: dict[str, str | int | bool] | None = None, timeout: float
    ) -> bytes:
        response = self.api.call_api(
            path,
            "GET",
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json, */*"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )
        return bytes(response.data)

    def get(self, path: str, *, from_cache: bool = False) -> RawObject | None:
        """The object at ``path``, or None when it does not exist (404).

        ``from_cache``: let the API server answer from its watch cache (``resourceVersion=0``)
        instead of a quorum read from etcd — cheaper, and at most a moment stale.
        """
        query: dict[str, str | int | bool] | None = {"resourceVersion": "0"} if from_cache else None
        try:
            data = self._request(path, query=query, timeout=REQUEST_TIMEOUT_SECONDS)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        obj: RawObject = json.loads(data)
        return obj

    def list(
        self,
        path: str,
        *,
        api_version: str,
        kind: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> list[RawObject]:
        """Items of a list, each with ``apiVersion`` and ``kind`` set.

        NB: list responses omit apiVersion/kind on items; a bundle needs them to
        tell objects apart, so they are filled in from the list's own type.
        """
        query: dict[str, str | int | bool] = {"limit": limit}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        try:
            data = json.loads(self._request(path, query=query, timeout=REQUEST_TIMEOUT_SECONDS))
        except ApiException as exc:
            if exc.status in (403, 404):
                logger.warning("cannot list %s: HTTP %s", path, exc.status)
                return []
            raise
        items = data.get("items") or []
        return [
            {"apiVersion": api_version, "kind": kind, **item}
            for item in items
            if isinstance(item, dict)
        ]

    def log(
        self,
        *,
        namespace: str,
        pod: str,
        container: str,
        previous: bool,
        tail_lines: int,
        limit_bytes: int,
    ) -> str | None:
        """A container log tail, or None when the kubelet cannot serve it."""
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        query: dict[str, str | int | bool] = {
            "container": container,
            "tailLines": tail_lines,
            "limitBytes": limit_bytes,
            "previous": previous,
        }
        try:
            data = self._request(path, query=query, timeout=LOG_TIMEOUT_SECONDS)
        except (ApiException, OSError) as exc:
            # NB: logs are best effort: no kubelet (kwok), a container that never ran,
            # or a rotated previous log must not stop the diagnosis.
            logger.debug(
                "no log for %s/%s[%s] previous=%s: %s", namespace, pod, container, previous, exc
            )
            return None
        except Exception as exc:  # noqa: BLE001 - urllib3 raises many shapes on a dead kubelet
            logger.debug("no log for %s/%s[%s]: %r", namespace, pod, container, exc)
            return None
        return data.decode("utf-8", errors="replace")


def send_json(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    body: Any = None,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
) -> RawObject:
    """A write (PATCH, DELETE, ...) with a JSON body; the answer as plain JSON.

    Raises ``ApiException``; callers turn the statuses they expect into their own errors.
    """
    response = api.call_api(
        path,
        method,
        query_params=list((query or {}).items()),
        header_params={"Content-Type": content_type, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
        _request_timeout=REQUEST_TIMEOUT_SECONDS,
    )
    data: RawObject = json.loads(response.data or b"{}")
    return data
