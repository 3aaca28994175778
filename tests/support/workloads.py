"""Builders for the sample workloads the integration tests and the demo deploy."""

from __future__ import annotations

from typing import Any

FAILURE_LABEL = "sim.kubemedic.dev/failure"


def deployment(
    name: str,
    *,
    replicas: int = 3,
    failure: str | None = None,
    memory_limit: str | None = "128Mi",
    image: str = "registry.example/shop/web:1.0.0",
) -> dict[str, Any]:
    """A Deployment whose pod template optionally carries a kwok failure label."""
    labels = {"app": name}
    template_labels = dict(labels)
    if failure:
        template_labels[FAILURE_LABEL] = failure
    container: dict[str, Any] = {
        "name": "app",
        "image": image,
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
    }
    if memory_limit:
        container["resources"] = {
            "requests": {"cpu": "50m", "memory": memory_limit},
            "limits": {"memory": memory_limit},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {"containers": [container]},
            },
        },
    }
