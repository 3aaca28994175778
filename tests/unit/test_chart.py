"""We test these aspects of charts/kubemedic, rendered by the real helm (no cluster):

- `helm lint --strict` passes with the defaults and every ci/*-values.yaml, and every values
  key carries a `# --` comment;
- values.schema.json rejects a typo'd key or a bad enum with a message naming it, and the
  template refuses inconsistent values (several replicas without leader election, ...);
- every KUBEMEDIC_* variable the chart sets is a field of OperatorSettings and parses (the
  settings ignore unknown variables, so a typo would otherwise go unnoticed);
- the operator Deployment: replicas, leader election, PDB only when it makes sense, spread
  over nodes, probes on the port the operator serves /healthz on, the hardened security
  context and a writable /tmp, the webhook token mounted from a Secret (generated or yours);
- RBAC: no rule reads Secrets or uses wildcards, Leases and ConfigMaps only in a Role in the
  release namespace, remediation verbs exactly when enabled, the approver and viewer roles,
  namespaced RoleBindings when watching some namespaces;
- vLLM: GPU resources, the serve arguments, probes with a start-up allowance, and KEDA or HPA
  objects (never both) per `autoscaling.mode`; the operator pointed at the right endpoint;
- ServiceMonitor/PrometheusRule only when enabled, the rules equal to their source;
- CRDs in the chart identical to crds/, and the drift check catches a difference;
- the Dockerfile: pinned base, non-root, and its entry point (`kubemedic run`) starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from kubemedic.settings import OperatorSettings
from localcluster import ROOT
from support.helm import (
    CHART,
    CI_VALUES,
    container_env,
    helm,
    helm_binary,
    of_kind,
    one,
    operator_deployment,
    render,
    template_args,
)

pytestmark = pytest.mark.skipif(
    helm_binary() is None, reason="helm is not built; run hack/build-tools.sh"
)

CI = {path.name.removesuffix("-values.yaml"): path for path in CI_VALUES}
RBAC_KINDS = ("ClusterRole", "Role")


def ci(name: str) -> list[dict[str, Any]]:
    return render(values=CI[name])


def rules_of(
    objects: list[dict[str, Any]], kind: str, name_suffix: str = ""
) -> list[dict[str, Any]]:
    return [
        rule
        for role in of_kind(objects, kind)
        if role["metadata"]["name"].endswith(name_suffix)
        for rule in role.get("rules", [])
    ]


def grants(rules: list[dict[str, Any]], *, group: str, resource: str, verb: str) -> bool:
    return any(
        group in r.get("apiGroups", [])
        and resource in r.get("resources", [])
        and verb in r.get("verbs", [])
        for r in rules
    )


def test_ci_values_cover_the_configurations_users_pick() -> None:
    assert {
        "default",
        "vllm-keda",
        "vllm-hpa",
        "existing-endpoint",
        "single-replica",
        "no-remediation-rbac",
        "monitoring",
        "namespaced",
    } <= set(CI)


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=["defaults", *CI])
def test_helm_lint_strict_passes(values: Path | None) -> None:
    args = ["lint", "--strict", "--kube-version", "v1.34.4", str(CHART)]
    if values is not None:
        args += ["--values", str(values)]
    result = helm(*args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_every_value_has_a_doc_comment() -> None:
    """A key with a value needs `# --` above it unless an ancestor is documented."""
    undocumented = []
    documented_indents: list[tuple[int, bool]] = []  # (indent, documented) of open ancestors
    comment_block: list[str] = []
    for number, line in enumerate((CHART / "values.yaml").read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            comment_block.append(stripped)
            continue
        if not stripped:
            comment_block = []
            continue
        indent = len(line) - len(line.lstrip())
        while documented_indents and documented_indents[-1][0] >= indent:
            documented_indents.pop()
        match = re.match(r"\s*([A-Za-z0-9_.-]+):(.*)$", line)
        if match is None or stripped.startswith("-"):
            comment_block = []
            continue
        has_doc = any(c.startswith("# --") for c in comment_block)
        inherited = any(doc for _, doc in documented_indents)
        if match.group(2).strip() and not has_doc and not inherited:
            undocumented.append(f"values.yaml:{number}: {match.group(1)}")
        documented_indents.append((indent, has_doc or inherited))
        comment_block = []
    assert undocumented == []


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["replicaCont=3"], "additional properties 'replicaCont' not allowed"),
        (["webhook.prot=9443"], "at '/webhook': additional properties 'prot' not allowed"),
        (["llm.vllm.autoscaling.mode=kedaa"], "value must be one of 'keda', 'hpa', 'none'"),
        (["operator.healthPort=70000"], "/operator/healthPort"),
        (["image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    ],
)
def test_schema_rejects_typos_with_the_key_named(sets: list[str], message: str) -> None:
    result = helm(*template_args(sets=[*sets]), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["leaderElection.enabled=false"], "leaderElection.enabled is false"),
        (
            ["leaderElection.renewDeadlineSeconds=20"],
            "renewDeadlineSeconds must be less than",
        ),
        (
            ["llm.vllm.enabled=true", "llm.endpoints[0]=http://x:8000/v1", "llm.model=m"],
            "not both",
        ),
        (["llm.vllm.enabled=true", "llm.vllm.autoscaling.mode=keda"], "no Prometheus URL"),
    ],
)
def test_inconsistent_values_fail_with_a_message(sets: list[str], message: str) -> None:
    result = helm(*template_args(sets=sets), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# -- the operator ---------------------------------------------------------------------


def test_default_is_two_replicas_with_leader_election_and_a_pdb() -> None:
    objects = render()
    deployment = operator_deployment(objects)
    assert deployment["spec"]["replicas"] == 2
    env = container_env(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["KUBEMEDIC_LEADER_ELECTION"] == "true"
    assert env["KUBEMEDIC_LEASE_NAME"] == "kubemedic-leader"
    assert env["KUBEMEDIC_LEASE_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["KUBEMEDIC_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_single_replica_has_no_pdb_and_no_leader_election() -> None:
    objects = ci("single-replica")
    deployment = operator_deployment(objects)
    assert deployment["spec"]["replicas"] == 1
    env = container_env(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["KUBEMEDIC_LEADER_ELECTION"] == "false"
    assert "KUBEMEDIC_LEASE_NAME" not in env
    assert of_kind(objects, "PodDisruptionBudget") == []
    assert not any(
        "coordination.k8s.io" in r.get("apiGroups", []) for r in rules_of(objects, "Role")
    )


def test_webhook_off_leaves_no_port_and_no_token() -> None:
    objects = render(sets=["webhook.enabled=false"])
    assert of_kind(objects, "Secret") == []
    assert [p["name"] for p in one(objects, "Service")["spec"]["ports"]] == ["metrics"]
    container = operator_deployment(objects)["spec"]["template"]["spec"]["containers"][0]
    assert container_env(container)["KUBEMEDIC_WEBHOOK_PORT"] == "0"
    assert "KUBEMEDIC_WEBHOOK_TOKEN_FILE" not in container_env(container)
    assert "webhook" not in {p["name"] for p in container["ports"]}


def test_pdb_only_when_enabled() -> None:
    assert of_kind(render(sets=["podDisruptionBudget.enabled=false"]), "PodDisruptionBudget") == []


def test_replicas_spread_over_nodes_and_zones() -> None:
    deployment = operator_deployment(render())
    pod = deployment["spec"]["template"]
    constraints = {c["topologyKey"]: c for c in pod["spec"]["topologySpreadConstraints"]}
    assert constraints["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"
    assert constraints["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    for constraint in constraints.values():
        assert (
            constraint["labelSelector"]["matchLabels"]
            == deployment["spec"]["selector"]["matchLabels"]
        )
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]


def test_probes_hit_healthz_on_the_port_the_operator_serves() -> None:
    container = operator_deployment(render())["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = container_env(container)
    assert ports["health"] == int(env["KUBEMEDIC_HEALTH_PORT"]) == 8080
    assert ports["metrics"] == int(env["KUBEMEDIC_METRICS_PORT"]) == 9090
    assert ports["webhook"] == int(env["KUBEMEDIC_WEBHOOK_PORT"])
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
        assert container[probe]["periodSeconds"] > 0


def test_security_context_is_hardened_with_a_writable_tmp() -> None:
    spec = operator_deployment(render())["spec"]["template"]["spec"]
    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == 65532
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    container = spec["containers"][0]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True
    assert "privileged" not in sc
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    assert container["args"][-1] == "run"


def test_generated_webhook_token_is_a_mounted_secret_file() -> None:
    objects = render()
    secret = one(objects, "Secret")
    assert secret["metadata"]["name"] == "kubemedic-webhook"
    assert len(secret["data"]["token"]) >= 48
    spec = operator_deployment(objects)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    volume = next(v for v in spec["volumes"] if v.get("secret"))
    assert volume["secret"]["secretName"] == "kubemedic-webhook"
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True
    assert container_env(container)["KUBEMEDIC_WEBHOOK_TOKEN_FILE"] == f"{mount['mountPath']}/token"
    # Two renders, two tokens: the template really generates one (lookup keeps it on upgrade,
    # tests/integration/test_chart_rbac.py).
    assert one(render(), "Secret")["data"]["token"] != secret["data"]["token"]


def test_existing_webhook_secret_is_used_and_none_is_created() -> None:
    objects = ci("existing-endpoint")
    assert of_kind(objects, "Secret") == []
    spec = operator_deployment(objects)["spec"]["template"]["spec"]
    assert any(
        v.get("secret", {}).get("secretName") == "alertmanager-kubemedic-token"
        for v in spec["volumes"]
    )


def test_service_exposes_webhook_and_metrics_of_the_operator_pods() -> None:
    objects = render()
    service = one(objects, "Service")
    deployment = operator_deployment(objects)
    assert (
        service["spec"]["selector"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "webhook": "webhook",
        "metrics": "metrics",
    }


@pytest.mark.parametrize("name", sorted(CI))
def test_every_setting_the_chart_sets_exists_and_parses(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A typo or a renamed setting would otherwise be ignored silently (extra="ignore")."""
    known = set()
    for field_name, field in OperatorSettings.model_fields.items():
        known.add(f"KUBEMEDIC_{field_name.upper()}")
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            known |= {str(choice).upper() for choice in alias.choices}
    container = operator_deployment(ci(name))["spec"]["template"]["spec"]["containers"][0]
    env = container_env(container)
    unknown = sorted(k for k in env if k.startswith("KUBEMEDIC_") and k not in known)
    assert unknown == []
    for key in [k for k in os.environ if k.startswith("KUBEMEDIC_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("KUBEMEDIC_"):
            # valueFrom (downward API, Secrets) arrives as a plain string in the pod.
            monkeypatch.setenv(key, value if isinstance(value, str) else "from-the-kubelet")
    token = tmp_path / "token"
    token.write_text("t")
    monkeypatch.setenv("KUBEMEDIC_WEBHOOK_TOKEN_FILE", str(token))
    settings = OperatorSettings()
    assert settings.health_port == int(env["KUBEMEDIC_HEALTH_PORT"])
    assert settings.leader_election is (env["KUBEMEDIC_LEADER_ELECTION"] == "true")
    if "KUBEMEDIC_LLM_URLS" in env:
        assert settings.llm_urls == json.loads(env["KUBEMEDIC_LLM_URLS"])


# -- RBAC -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CI))
def test_no_rule_reads_secrets_or_uses_wildcards(name: str) -> None:
    objects = ci(name)
    for kind in RBAC_KINDS:
        for role in of_kind(objects, kind):
            for rule in role.get("rules", []):
                where = f"{kind} {role['metadata']['name']}: {rule}"
                assert "secrets" not in rule.get("resources", []), where
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule.get(field, []), where
                if role["metadata"]["name"].endswith(("-operator", "-operator-cluster")):
                    assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), where


@pytest.mark.parametrize("name", sorted(CI))
def test_leases_and_configmaps_only_in_the_release_namespace(name: str) -> None:
    objects = ci(name)
    for role in of_kind(objects, "ClusterRole"):
        resources = {r for rule in role.get("rules", []) for r in rule.get("resources", [])}
        assert not resources & {"leases", "configmaps"}, role["metadata"]["name"]
    roles = of_kind(objects, "Role")
    assert [r["metadata"]["namespace"] for r in roles] == ["kubemedic"]
    rules = roles[0]["rules"]
    assert grants(rules, group="", resource="configmaps", verb="list")
    assert not grants(rules, group="", resource="configmaps", verb="update")
    leased = [r for r in rules if "leases" in r["resources"]]
    if leased:
        # Only create is unnamed (the Lease does not exist yet); the rest is this one Lease.
        for rule in leased:
            assert rule["verbs"] == ["create"] or rule["resourceNames"] == ["kubemedic-leader"]


def test_operator_rules_cover_what_the_code_does() -> None:
    rules = rules_of(render(), "ClusterRole", "-operator")
    for group, resource, verb in [
        ("kubemedic.dev", "incidents", "watch"),
        ("kubemedic.dev", "incidents", "create"),
        ("kubemedic.dev", "incidents", "patch"),
        ("kubemedic.dev", "incidents/status", "patch"),
        ("kubemedic.dev", "remediationpolicies", "list"),
        ("kubemedic.dev", "remediationpolicies", "watch"),
        ("kubemedic.dev", "remediationpolicies/status", "patch"),
        ("", "events", "create"),
        ("", "events", "list"),
        ("", "pods/log", "get"),
        ("apps", "replicasets", "list"),
        ("discovery.k8s.io", "endpointslices", "list"),
        ("autoscaling", "horizontalpodautoscalers", "list"),
        ("", "resourcequotas", "list"),
        ("", "nodes", "get"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        # remediation, on by default
        ("apps", "deployments", "patch"),
        ("apps", "statefulsets", "patch"),
        ("autoscaling", "horizontalpodautoscalers", "patch"),
        ("", "pods", "delete"),
        ("", "nodes", "patch"),
    ]:
        assert grants(rules, group=group, resource=resource, verb=verb), (group, resource, verb)
    for group, resource, verb in [
        ("", "namespaces", "delete"),
        ("", "pods", "create"),
        ("apps", "deployments", "delete"),
        ("apps", "deployments", "create"),
        ("kubemedic.dev", "incidents", "delete"),
        ("", "nodes", "delete"),
        # kopf and clients/leader.py only POST core/v1 Events
        ("", "events", "patch"),
        ("events.k8s.io", "events", "create"),
    ]:
        assert not grants(rules, group=group, resource=resource, verb=verb), (group, resource, verb)


def test_no_remediation_rbac_grants_no_writes_to_workloads() -> None:
    objects = ci("no-remediation-rbac")
    rules = [r for kind in RBAC_KINDS for r in rules_of(objects, kind)]
    for group, resource in [
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("", "nodes"),
        ("", "pods"),
    ]:
        for verb in ("patch", "update", "delete", "create"):
            assert not grants(rules, group=group, resource=resource, verb=verb), (resource, verb)
    assert grants(rules, group="apps", resource="deployments", verb="get")
    assert not any(
        r["metadata"]["name"].endswith("-approver") for r in of_kind(objects, "ClusterRole")
    )


def test_approver_and_viewer_roles() -> None:
    objects = render()
    approver = one(objects, "ClusterRole", "kubemedic-approver")
    assert grants(approver["rules"], group="kubemedic.dev", resource="incidents", verb="patch")
    assert not grants(approver["rules"], group="kubemedic.dev", resource="incidents", verb="delete")
    labels = approver["metadata"]["labels"]
    assert "rbac.authorization.k8s.io/aggregate-to-edit" not in labels
    assert "rbac.authorization.k8s.io/aggregate-to-admin" not in labels
    aggregated = one(
        render(sets=["rbac.approver.aggregateToAdmin=true"]), "ClusterRole", "kubemedic-approver"
    )
    assert (
        aggregated["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    )
    viewer = one(objects, "ClusterRole", "kubemedic-viewer")
    assert {v for r in viewer["rules"] for v in r["verbs"]} == {"get", "list", "watch"}
    assert viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"


def test_cluster_wide_by_default_namespaced_when_watching_namespaces() -> None:
    default = render()
    assert [b["roleRef"]["name"] for b in of_kind(default, "ClusterRoleBinding")] == [
        "kubemedic-operator"
    ]
    assert "KUBEMEDIC_NAMESPACES" not in container_env(
        operator_deployment(default)["spec"]["template"]["spec"]["containers"][0]
    )

    objects = ci("namespaced")
    env = container_env(operator_deployment(objects)["spec"]["template"]["spec"]["containers"][0])
    assert json.loads(env["KUBEMEDIC_NAMESPACES"]) == ["shop", "payments"]
    assert env["KUBEMEDIC_ALERT_NAMESPACE"] == "shop"
    bindings = {
        (b["metadata"]["namespace"], b["roleRef"]["kind"], b["roleRef"]["name"])
        for b in of_kind(objects, "RoleBinding")
    }
    assert {
        ("shop", "ClusterRole", "kubemedic-operator"),
        ("payments", "ClusterRole", "kubemedic-operator"),
    } <= bindings
    cluster_bindings = of_kind(objects, "ClusterRoleBinding")
    assert [b["roleRef"]["name"] for b in cluster_bindings] == ["kubemedic-operator-cluster"]
    cluster_rules = one(objects, "ClusterRole", "kubemedic-operator-cluster")["rules"]
    namespaced_resources = {"pods", "deployments", "incidents", "replicasets", "services"}
    assert not {r for rule in cluster_rules for r in rule["resources"]} & namespaced_resources
    policy = one(objects, "RemediationPolicy")
    assert policy["metadata"]["namespace"] == "shop"
    assert policy["spec"]["autoApproveUpTo"] == "Low"


# -- vLLM -------------------------------------------------------------------------------


def _vllm(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objects, "Deployment", "kubemedic-vllm")


def test_vllm_off_by_default() -> None:
    objects = render()
    assert [d["metadata"]["name"] for d in of_kind(objects, "Deployment")] == ["kubemedic"]
    assert of_kind(objects, "ScaledObject") == of_kind(objects, "HorizontalPodAutoscaler") == []
    env = container_env(operator_deployment(objects)["spec"]["template"]["spec"]["containers"][0])
    assert "KUBEMEDIC_LLM_URLS" not in env


def test_vllm_with_keda_scales_on_queue_depth() -> None:
    objects = ci("vllm-keda")
    assert of_kind(objects, "HorizontalPodAutoscaler") == []
    scaled = one(objects, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "kubemedic-vllm"
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 3)
    assert scaled["spec"]["pollingInterval"] == 15
    assert scaled["spec"]["cooldownPeriod"] == 360
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 360
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["threshold"] == "5"
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    assert 'model_name="kubemedic-llm"' in trigger["metadata"]["query"]
    assert trigger["metadata"]["serverAddress"] == "http://prometheus-operated.monitoring.svc:9090"
    # The autoscaler owns the replica count; helm must not reset it on upgrade.
    assert "replicas" not in _vllm(objects)["spec"]
    assert one(objects, "PersistentVolumeClaim")["spec"]["accessModes"] == ["ReadWriteMany"]


def test_vllm_with_hpa_uses_a_custom_pods_metric() -> None:
    objects = ci("vllm-hpa")
    assert of_kind(objects, "ScaledObject") == []
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "vllm_num_requests_waiting"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "5"}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 360
    assert "replicas" not in _vllm(objects)["spec"]


def test_vllm_without_autoscaling_has_fixed_replicas() -> None:
    objects = render(sets=["llm.vllm.enabled=true", "llm.vllm.replicas=2"])
    assert _vllm(objects)["spec"]["replicas"] == 2
    assert of_kind(objects, "ScaledObject") == of_kind(objects, "HorizontalPodAutoscaler") == []


def test_vllm_pod_serves_the_model_on_gpus_with_startup_allowance() -> None:
    objects = ci("vllm-hpa")
    spec = _vllm(objects)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"].startswith("vllm/vllm-openai:v")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 2
    args = container["args"]
    assert args[0] == "Qwen/Qwen2.5-7B-Instruct"

    def flag(name: str) -> str:
        return str(args[args.index(name) + 1])

    assert flag("--max-model-len") == "32768"
    assert flag("--gpu-memory-utilization") == "0.9"
    assert flag("--tensor-parallel-size") == "2"
    assert flag("--scheduling-policy") == "priority"
    assert flag("--structured-outputs-config.backend") == "xgrammar"
    assert "--enable-prefix-caching" in args
    assert "--tool-call-parser" not in args
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["dshm"] == "/dev/shm"
    assert container_env(container)["HF_HOME"] == mounts["model-cache"]
    assert spec["automountServiceAccountToken"] is False
    assert one(objects, "PodDisruptionBudget", "kubemedic-vllm")["spec"]["maxUnavailable"] == 1
    keda_args = _vllm(ci("vllm-keda"))["spec"]["template"]["spec"]["containers"][0]["args"]
    assert keda_args[keda_args.index("--tool-call-parser") + 1] == "hermes"
    assert "--enable-auto-tool-choice" in keda_args


def test_operator_uses_the_charts_vllm_service_or_the_given_endpoints() -> None:
    objects = ci("vllm-keda")
    service = one(objects, "Service", "kubemedic-vllm")
    port = service["spec"]["ports"][0]["port"]
    env = container_env(operator_deployment(objects)["spec"]["template"]["spec"]["containers"][0])
    assert json.loads(env["KUBEMEDIC_LLM_URLS"]) == [
        f"http://kubemedic-vllm.kubemedic.svc:{port}/v1"
    ]
    assert env["KUBEMEDIC_LLM_MODEL"] == "kubemedic-llm"
    assert env["KUBEMEDIC_LLM_API_KEY"] == {
        "secretKeyRef": {"name": "kubemedic-llm", "key": "api-key"}
    }
    vllm_env = container_env(_vllm(objects)["spec"]["template"]["spec"]["containers"][0])
    assert vllm_env["VLLM_API_KEY"] == env["KUBEMEDIC_LLM_API_KEY"]

    existing = ci("existing-endpoint")
    assert of_kind(existing, "Service") == [one(existing, "Service", "kubemedic")]
    env = container_env(operator_deployment(existing)["spec"]["template"]["spec"]["containers"][0])
    assert json.loads(env["KUBEMEDIC_LLM_URLS"]) == [
        "http://vllm-0.llm.svc:8000/v1",
        "http://vllm-1.llm.svc:8000/v1",
    ]
    assert env["KUBEMEDIC_LLM_MODEL"] == "Qwen/Qwen2.5-7B-Instruct"


# -- monitoring -------------------------------------------------------------------------


def test_servicemonitor_and_prometheusrule_only_when_enabled() -> None:
    default = render()
    assert of_kind(default, "ServiceMonitor") == of_kind(default, "PrometheusRule") == []
    objects = ci("monitoring")
    monitor = one(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    rule = one(objects, "PrometheusRule")
    source = yaml.safe_load((CHART / "files" / "kubemedic-rules.yaml").read_text())
    assert rule["spec"]["groups"] == source["groups"]
    assert all(
        r.get("alert") or r.get("record") for g in rule["spec"]["groups"] for r in g["rules"]
    )


def test_chart_rules_are_the_deployed_rules_file() -> None:
    source = ROOT / "deploy" / "prometheus" / "kubemedic-rules.yaml"
    copy = CHART / "files" / "kubemedic-rules.yaml"
    if source.exists():
        assert copy.read_bytes() == source.read_bytes(), "run hack/sync-crds.sh"
    else:
        assert "kubemedic-placeholder" in copy.read_text()


# -- CRDs -------------------------------------------------------------------------------


def test_chart_crds_are_identical_to_crds() -> None:
    source = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    copies = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert copies.keys() == source.keys()
    for name, text in source.items():
        assert copies[name] == text, f"charts/kubemedic/crds/{name} drifted; run hack/sync-crds.sh"
    check = subprocess.run(
        [str(ROOT / "hack" / "sync-crds.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_drift_check_catches_a_changed_crd(tmp_path: Path) -> None:
    (tmp_path / "hack").mkdir()
    shutil.copy(ROOT / "hack" / "sync-crds.sh", tmp_path / "hack")
    shutil.copytree(ROOT / "crds", tmp_path / "crds")
    shutil.copytree(CHART / "crds", tmp_path / "charts" / "kubemedic" / "crds")
    shutil.copytree(CHART / "files", tmp_path / "charts" / "kubemedic" / "files")
    if (ROOT / "deploy").exists():
        shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    script = str(tmp_path / "hack" / "sync-crds.sh")
    assert subprocess.run([script, "--check"], capture_output=True, check=False).returncode == 0

    edited = tmp_path / "crds" / "incident.yaml"
    edited.write_text(edited.read_text() + "# a change\n")
    (tmp_path / "charts" / "kubemedic" / "crds" / "stale.yaml").write_text("kind: Stale\n")
    drift = subprocess.run([script, "--check"], capture_output=True, text=True, check=False)
    assert drift.returncode == 1
    assert "charts/kubemedic/crds/incident.yaml differs from crds/incident.yaml" in drift.stderr
    assert "charts/kubemedic/crds/stale.yaml has no source" in drift.stderr

    synced = subprocess.run([script], capture_output=True, text=True, check=False)
    assert synced.returncode == 0, synced.stderr
    assert (
        tmp_path / "charts" / "kubemedic" / "crds" / "incident.yaml"
    ).read_text() == edited.read_text()
    assert not (tmp_path / "charts" / "kubemedic" / "crds" / "stale.yaml").exists()


# -- the image --------------------------------------------------------------------------


def _dockerfile() -> dict[str, list[str]]:
    instructions: dict[str, list[str]] = {}
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            instructions.setdefault(word.upper(), []).append(rest.strip())
    return instructions


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    instructions = _dockerfile()
    (base,) = [a for a in instructions["ARG"] if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", base), base
    assert len(instructions["FROM"]) == 2
    assert instructions["USER"] == ["65532:65532"]
    assert "8080" in instructions["EXPOSE"][0].split()
    assert "HEALTHCHECK" not in instructions
    installs = " ".join(instructions["RUN"])
    assert "[test" not in installs
    assert "[lint" not in installs
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore
    assert "!operator/" in ignore


def test_image_entry_point_is_the_command_the_chart_runs_and_it_starts() -> None:
    instructions = _dockerfile()
    entrypoint = json.loads(instructions["ENTRYPOINT"][-1])
    cmd = json.loads(instructions["CMD"][-1])
    assert entrypoint == ["kubemedic"]
    assert cmd == ["run"]
    chart_args = operator_deployment(render())["spec"]["template"]["spec"]["containers"][0]["args"]
    assert chart_args == cmd
    # The console script pip installs for the wheel, as in the image (outside a container).
    script = Path(sys.executable).parent / entrypoint[0]
    assert script.exists(), f"{script} missing; run make install"
    started = subprocess.run(
        [str(script), *cmd, "--help"], capture_output=True, text=True, check=False
    )
    assert started.returncode == 0, started.stderr
    assert "--health-port" in started.stdout
