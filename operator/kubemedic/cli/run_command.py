"""``kubemedic run``: the operator process (checked for access before kopf starts)."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from kubemedic.cli.common import (
    EXIT_OK,
    UsageError,
    connect,
    operator_settings,
)

logger = logging.getLogger("kubemedic")


def cmd_run(args: argparse.Namespace) -> int:
    """Run the operator: check the cluster first, then start kopf.

    NB: fail fast, not wait: every problem found before kopf starts (no kubeconfig, the
    cluster unreachable, the CRDs missing, a permission missing, the Lease's namespace
    missing) exits 1 with one line, so a Deployment shows it in CrashLoopBackOff with the
    reason in its log instead of a replica that looks alive and does nothing (README).
    """
    overrides: dict[str, Any] = {}
    if args.namespace:
        overrides["namespaces"] = args.namespace
    for name in ("metrics_port", "health_port", "kubeconfig"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    settings = operator_settings(**overrides)
    if settings.kubeconfig:
        # NB: the kubernetes package reads $KUBECONFIG when it is first imported, and kopf's
        # login uses that package: set it before kopf (or anything else) imports it.
        os.environ["KUBECONFIG"] = settings.kubeconfig

    import kopf  # noqa: PLC0415 - only the operator needs kopf loaded
    from prometheus_client import start_http_server  # noqa: PLC0415

    import kubemedic.handlers  # noqa: F401, PLC0415 - registers the handlers
    from kubemedic.clients.cluster import require_namespace  # noqa: PLC0415
    from kubemedic.service.runtime import build_runtime, operator_access  # noqa: PLC0415

    api = connect(settings.kubeconfig, operator_access(settings))
    if settings.leader_election:
        require_namespace(
            api,
            settings.lease_namespace or settings.operator_namespace,
            setting="KUBEMEDIC_LEASE_NAMESPACE"
            if settings.lease_namespace
            else "KUBEMEDIC_OPERATOR_NAMESPACE",
        )
    try:
        runtime = build_runtime(settings)
    except ValueError as exc:
        raise UsageError(f"invalid setting: {exc}") from None
    logger.info("cluster %s reachable, permissions checked; starting", api.configuration.host)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.bind_address)
        logger.info("metrics on http://%s:%d/metrics", settings.bind_address, settings.metrics_port)
    liveness = (
        f"http://{settings.bind_address}:{settings.health_port}/healthz"
        if settings.health_port
        else None
    )
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness,
        memo=runtime,
    )
    return EXIT_OK
