"""Connecting to the cluster, and one line that says what is missing and how to fix it.

Every command that needs a cluster first checks, in order, and stops at the first problem:

1. a kubeconfig (or an in-cluster ServiceAccount) exists and loads — :func:`load_api_client`;
2. the API server answers (``GET /version``) and accepts the credentials;
3. the kubemedic CRDs are installed (the ``kubemedic.dev`` API group serves the resources);
4. the identity may do what the command will do: one SelfSubjectAccessReview per
   :class:`Access` (the same question ``kubectl auth can-i`` asks).

Each failure is a :class:`ClusterAccessError` whose message names the server and, for a
refusal, the verb and resource, and says what to do. Errors that still happen later (the
network drops mid-command) go through :func:`describe_api_error` to the same kind of line.

NB: checking before acting is what makes ``kubemedic run`` fail fast: without it, kopf's
start-up retries a failed step every 60 s while the next steps run on half a configuration.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.kube_config import ENV_KUBECONFIG_PATH_SEPARATOR

from kubemedic.constants import API_GROUP, API_VERSION

PROBE_TIMEOUT_SECONDS: Final = 10.0
_UNAUTHORIZED: Final = 401
_FORBIDDEN: Final = 403
_NOT_FOUND: Final = 404
_KUBEMEDIC_RESOURCES: Final = ("incidents", "remediationpolicies")


class ClusterAccessError(RuntimeError):
    """The cluster cannot be used as needed; the message is one line with the fix."""


@dataclass(frozen=True)
class Access:
    """One permission a command needs: ``kubectl auth can-i VERB RESOURCE [-n NS]``."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    subresource: str | None = None
    name: str | None = None

    def display(self) -> str:
        resource = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.subresource:
            resource += f"/{self.subresource}"
        if self.name:
            resource += f" {self.name!r}"
        where = f"in namespace {self.namespace!r}" if self.namespace else "in all namespaces"
        return f"{self.verb} {resource} {where}"


def _kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    value = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(p) for p in value.split(ENV_KUBECONFIG_PATH_SEPARATOR) if p]


def load_api_client(kubeconfig: str | None = None, *, pool_size: int = 16) -> client.ApiClient:
    """An API client: ``kubeconfig``, else in-cluster, else ``$KUBECONFIG`` (read now, not
    when the kubernetes package was imported), else ``~/.kube/config``; its connection pool
    fits ``pool_size`` concurrent requests.

    NB: the client's default pool holds ``5 * cpu_count`` connections; more threads than that
    log "Connection pool is full" and reconnect for every request.
    Raises :class:`ClusterAccessError` when there is no usable configuration.
    """
    configuration = client.Configuration()
    if not kubeconfig:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            pass
        else:
            configuration.connection_pool_maxsize = pool_size
            return client.ApiClient(configuration)
    paths = _kubeconfig_paths(kubeconfig)
    shown = ":".join(paths)
    if not any(os.path.isfile(p) for p in paths):
        source = (
            "--kubeconfig"
            if kubeconfig
            else "KUBECONFIG"
            if os.environ.get("KUBECONFIG")
            else "default"
        )
        raise ClusterAccessError(
            f"no kubeconfig: {shown} ({source}) does not exist and this is not a pod with a "
            "ServiceAccount; point KUBECONFIG or --kubeconfig at your cluster's kubeconfig"
        )
    try:
        config.load_kube_config(
            config_file=ENV_KUBECONFIG_PATH_SEPARATOR.join(paths),
            client_configuration=configuration,
        )
    except (config.ConfigException, yaml.YAMLError, OSError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise ClusterAccessError(
            f"kubeconfig {shown} cannot be used: {detail}; fix it or choose a context with "
            "`kubectl config use-context`"
        ) from None
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def server_of(api: client.ApiClient) -> str:
    return str(api.configuration.host)


def _get(api: client.ApiClient, path: str) -> Any:
    response = api.call_api(
        path,
        "GET",
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
        _preload_content=False,
        _return_http_data_only=True,
        _request_timeout=PROBE_TIMEOUT_SECONDS,
    )
    return json.loads(response.data or b"{}")


def describe_api_error(exc: BaseException, *, server: str | None = None) -> str | None:
    """The one-line message for a cluster error, or None when ``exc`` is not one."""
    server = server or _server_of_error(exc)
    if isinstance(exc, ClusterAccessError):
        return str(exc)
    if isinstance(exc, ApiException):
        if exc.status == _UNAUTHORIZED:
            return (
                f"unauthorized: {server} rejected the kubeconfig's credentials (HTTP 401); "
                "log in again or refresh the token of the current context"
            )
        if exc.status == _FORBIDDEN:
            return f"forbidden on {server}: {_status_message(exc)}; ask for RBAC that allows it"
        return None
    if isinstance(exc, urllib3.exceptions.HTTPError):
        reason = getattr(exc, "reason", None) or exc
        return (
            f"cluster unreachable: cannot connect to {server} "
            f"({' '.join(str(_root(reason)).split())}); start the cluster or point "
            "KUBECONFIG / --kubeconfig at a reachable one (`kubectl cluster-info` checks it)"
        )
    return None


def _server_of_error(exc: BaseException) -> str:
    pool = getattr(exc, "pool", None)
    if pool is not None and getattr(pool, "host", None):
        return f"{pool.scheme}://{pool.host}:{pool.port}"
    return "the API server"


def _root(reason: object) -> object:
    """The innermost cause urllib3 wraps (``[Errno 111] Connection refused``, not the pool)."""
    while isinstance(reason, urllib3.exceptions.HTTPError) and getattr(reason, "reason", None):
        reason = reason.reason  # type: ignore[attr-defined]
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return str(reason).rpartition(": ")[2] or reason
    return reason


def _status_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def _probe_client(api: client.ApiClient) -> client.ApiClient:
    """``api``'s configuration without urllib3's retries: a check that fails says so once,
    without three "Retrying" warnings first."""
    probe = copy.copy(api.configuration)
    probe.retries = False
    return client.ApiClient(probe)


def check_access(api: client.ApiClient, needs: Iterable[Access]) -> None:
    """Raise :class:`ClusterAccessError` unless the server answers, the CRDs are installed and
    every permission in ``needs`` is granted (see the module doc)."""
    server = server_of(api)
    api = _probe_client(api)
    try:
        _get(api, "/version")
        try:
            group = _get(api, f"/apis/{API_GROUP}/{API_VERSION}")
        except ApiException as exc:
            if exc.status != _NOT_FOUND:
                raise
            group = {}
        served = {r.get("name") for r in group.get("resources") or [] if isinstance(r, dict)}
        missing = [r for r in _KUBEMEDIC_RESOURCES if r not in served]
        if missing:
            raise ClusterAccessError(
                f"the kubemedic CRDs are not installed on {server} (no {', '.join(missing)} "
                f"in {API_GROUP}/{API_VERSION}); install them with `kubectl apply -f crds/` "
                "or the Helm chart"
            )
        authz = client.AuthorizationV1Api(api)
        for need in needs:
            review = authz.create_self_subject_access_review(
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SelfSubjectAccessReview",
                    "spec": {
                        "resourceAttributes": {
                            "verb": need.verb,
                            "group": need.group,
                            "resource": need.resource,
                            "subresource": need.subresource or "",
                            "namespace": need.namespace or "",
                            "name": need.name or "",
                        }
                    },
                },
                _request_timeout=PROBE_TIMEOUT_SECONDS,
            )
            if not review.status.allowed:
                raise ClusterAccessError(
                    f"forbidden on {server}: the kubeconfig's identity may not "
                    f"{need.display()}; grant it with a Role or ClusterRole "
                    f"(check with `kubectl auth can-i {need.verb} {need.resource}"
                    f"{'.' + need.group if need.group else ''}"
                    f"{' -n ' + need.namespace if need.namespace else ' -A'}`)"
                )
    except ClusterAccessError:
        raise
    except (ApiException, urllib3.exceptions.HTTPError) as exc:
        message = describe_api_error(exc, server=server)
        if message is None:
            raise
        raise ClusterAccessError(message) from None


def require_namespace(api: client.ApiClient, namespace: str, *, setting: str) -> None:
    """Raise :class:`ClusterAccessError` when ``namespace`` (named by ``setting``) does not
    exist; a refusal to read it is not an error (the operator may lack that permission)."""
    server = server_of(api)
    api = _probe_client(api)
    try:
        _get(api, f"/api/v1/namespaces/{namespace}")
    except ApiException as exc:
        if exc.status == _NOT_FOUND:
            raise ClusterAccessError(
                f"namespace {namespace!r} ({setting}) does not exist on {server}; create it "
                f"with `kubectl create namespace {namespace}` or set {setting}"
            ) from None
        if exc.status == _FORBIDDEN:
            return
        message = describe_api_error(exc, server=server)
        if message is None:
            raise
        raise ClusterAccessError(message) from None
    except urllib3.exceptions.HTTPError as exc:
        raise ClusterAccessError(str(describe_api_error(exc, server=server))) from None
