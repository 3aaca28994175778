"""Evidence for the failure modes that look beyond the target's own objects, on the local
control plane (real API server, controllers and kwok nodes).

We test these aspects of clients/evidence.py:
- a Service the pods' env values name (a dependency), with its EndpointSlice, is in the
  bundle, so the rules can say DependencyDown; a Service nobody names is not;
- the PodDisruptionBudget selecting the pods is in the bundle (DisruptionBlocked), one that
  selects other pods is not.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from kubemedic.clients.evidence import gather_bundle
from kubemedic.clients.kube import KubeReader
from kubemedic.models.target import TargetKind, TargetRef
from support.waiting import wait_for
from support.workloads import deployment


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 8080}]},
    }


def _pdb(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": app}}},
    }


def test_dependencies_and_budgets_are_gathered(
    api_client: client.ApiClient, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    checkout = deployment("checkout", replicas=2)
    checkout["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "PAYMENTS_URL", "value": "http://payments:8080/charge"}
    ]
    apps.create_namespaced_deployment(namespace, checkout)
    for name in ("payments", "unrelated"):
        core.create_namespaced_service(namespace, _service(name))
    policy = client.PolicyV1Api(api_client)
    policy.create_namespaced_pod_disruption_budget(namespace, _pdb("checkout", "checkout"))
    policy.create_namespaced_pod_disruption_budget(namespace, _pdb("other", "other"))
    wait_for(
        lambda: len(core.list_namespaced_pod(namespace, label_selector="app=checkout").items) == 2,
        timeout=60,
        what="the checkout pods",
    )
    reader = KubeReader(api_client)
    bundle = gather_bundle(
        reader, TargetRef(kind=TargetKind.DEPLOYMENT, namespace=namespace, name="checkout")
    )
    names = {(o["kind"], o["metadata"]["name"]) for o in bundle.objects}
    assert ("Service", "payments") in names
    assert ("Service", "unrelated") not in names
    assert ("PodDisruptionBudget", "checkout") in names
    assert ("PodDisruptionBudget", "other") not in names
