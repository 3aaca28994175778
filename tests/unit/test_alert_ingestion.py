"""The alert ingestion service's decisions, with in-memory stand-ins for the API server.

The integration tests (test_webhook.py, test_alertmanager_e2e.py) drive the same code against
the real API server; these cover the races and failures a single real cluster cannot stage
on demand.

We test these aspects:
- a pod alert resolves to the Deployment through ReplicaSet ``ownerReferences``; a bare pod, a
  Job's pod and a pod that is gone stay the target;
- a create that loses to another replica (409) is ``Deduplicated``, not an error;
- a status write that conflicts is retried on a fresh read, carrying its resourceVersion;
- the cooldown holds back a second alert about the same target only, and 0 disables it;
- an API failure on one alert fails the call (so Alertmanager retries) while reporting what
  the other alerts did;
- polling: ``ALERTS_FOR_STATE`` supplies each alert's start; an alert that leaves ``ALERTS``
  is resolved on the next poll;
- settings that cannot work are refused with the setting named;
- alerts about missing namespaces or objects, protected namespaces or with only untrusted
  labels are ``Skipped`` with the reason and create nothing; rate limits answer
  ``RateLimited`` per target and per namespace;
- repeats are deduplicated from the index without a request; an Incident deleted (as the
  watch reports) opens again; Incidents listed at start hold the cooldown; without that list
  the intake still answers every alert right;
- 10,000 alerts about missing pods open nothing and read the pods with one LIST (one GET per
  distinct pod if the LIST fails).
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubemedic.clients.kube import ConflictError
from kubemedic.domain import alert_mapping as alerts
from kubemedic.handlers.alertmanager_server import check_settings
from kubemedic.service.alert_intake import (
    AlertIngestor,
    IngestError,
    IntakeRules,
    poll_alerts,
    read_firing_alerts,
)
from kubemedic.settings import OperatorSettings

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class FakeStore:
    """Incidents in a dict, with resourceVersions, 409s and injectable failures."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0
        self.lose_next_create = False
        self.conflicts_to_raise = 0
        self.fail_for: set[str] = set()
        self.patches: list[tuple[str, str]] = []

    def _bump(self, obj: dict[str, Any]) -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((namespace, name))
        return copy.deepcopy(found) if found else None

    def list_all(self, *, label_selector: str, namespaces: Any = ()) -> list[dict[str, Any]]:
        key, _, value = label_selector.partition("=")
        return [
            copy.deepcopy(o)
            for (ns, _), o in self.objects.items()
            if (not namespaces or ns in namespaces) and o["metadata"]["labels"].get(key) == value
        ]

    def create(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        target = body["spec"]["target"]["name"]
        if target in self.fail_for:
            msg = f"API server unavailable for {target}"
            raise OSError(msg)
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if self.lose_next_create:  # another replica created it a moment ago
            self.lose_next_create = False
            self.objects[key] = self._stored(body)
            return copy.deepcopy(self.objects[key]), False
        if key in self.objects:
            return copy.deepcopy(self.objects[key]), False
        self.objects[key] = self._stored(body)
        return copy.deepcopy(self.objects[key]), True

    def _stored(self, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        obj["metadata"]["creationTimestamp"] = T0.isoformat().replace("+00:00", "Z")
        obj["metadata"]["generation"] = 1
        obj["status"] = {}
        self._bump(obj)
        return obj

    def patch_status(
        self, namespace: str, name: str, *, status: dict[str, Any], resource_version: str
    ) -> dict[str, Any]:
        obj = self.objects[(namespace, name)]
        self.patches.append((name, resource_version))
        if self.conflicts_to_raise:
            self.conflicts_to_raise -= 1
            self._bump(obj)  # someone else wrote meanwhile
            raise ConflictError("changed")
        if obj["metadata"]["resourceVersion"] != resource_version:
            raise ConflictError("stale")
        obj["status"] = {**obj["status"], **status}
        self._bump(obj)
        return copy.deepcopy(obj)


class FakeReader:
    """``KubeReader.get`` over a dict of REST paths."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects

    def get(self, path: str, *, from_cache: bool = False) -> dict[str, Any] | None:
        del from_cache
        return self.objects.get(path)


def owned(kind: str, name: str) -> dict[str, Any]:
    return {"metadata": {"ownerReferences": [{"kind": kind, "name": name, "controller": True}]}}


READER = FakeReader(
    {
        "/api/v1/namespaces/shop": {"metadata": {"name": "shop"}},
        "/apis/apps/v1/namespaces/shop/deployments/web": {"metadata": {}},
        "/apis/apps/v1/namespaces/shop/deployments/api": {"metadata": {}},
        "/apis/apps/v1/namespaces/shop/deployments/broken": {"metadata": {}},
        "/api/v1/namespaces/shop/pods/web-5d9c7b6f4-x2x7q": owned("ReplicaSet", "web-5d9c7b6f4"),
        "/apis/apps/v1/namespaces/shop/replicasets/web-5d9c7b6f4": owned("Deployment", "web"),
        "/api/v1/namespaces/shop/pods/db-0": owned("StatefulSet", "db"),
        "/api/v1/namespaces/shop/pods/migrate-7xk2p": owned("Job", "migrate"),
        "/api/v1/namespaces/shop/pods/bare": {"metadata": {}},
    }
)


def ingestor(store: FakeStore, *, cooldown: timedelta = timedelta(minutes=10)) -> AlertIngestor:
    return AlertIngestor(
        incidents=store,  # type: ignore[arg-type]
        reader=READER,  # type: ignore[arg-type]
        cooldown=cooldown,
        clock=lambda: T0 + timedelta(minutes=1),
    )


def fire(store: FakeStore, *labels: dict[str, str], **kwargs: Any) -> list[str]:
    received = [
        alerts.ReceivedAlert(
            status=kwargs.get("status", "firing"),
            labels={"alertname": "A", "namespace": "shop", **extra},
            annotations={},
            fingerprint=alerts.label_fingerprint({"alertname": "A", "namespace": "shop", **extra}),
            starts_at=T0,
            ends_at=kwargs.get("ends_at"),
        )
        for extra in labels
    ]
    worker = kwargs.get("worker") or ingestor(store)
    try:
        results = asyncio.run(worker.ingest(received, source="webhook"))
    finally:
        worker.close()
    return [r.outcome.value for r in results]


@pytest.mark.parametrize(
    ("pod", "target"),
    [
        ("web-5d9c7b6f4-x2x7q", {"kind": "Deployment", "namespace": "shop", "name": "web"}),
        ("db-0", {"kind": "StatefulSet", "namespace": "shop", "name": "db"}),
        ("migrate-7xk2p", {"kind": "Pod", "namespace": "shop", "name": "migrate-7xk2p"}),
        ("bare", {"kind": "Pod", "namespace": "shop", "name": "bare"}),
    ],
)
def test_pods_resolve_to_their_workload(pod: str, target: dict[str, str]) -> None:
    store = FakeStore()
    assert fire(store, {"pod": pod}) == ["Created"]
    [incident] = store.objects.values()
    assert incident["spec"]["target"] == target


def test_a_create_lost_to_another_replica_is_deduplicated() -> None:
    store = FakeStore()
    store.lose_next_create = True
    assert fire(store, {"deployment": "web"}) == ["Deduplicated"]
    assert len(store.objects) == 1


def test_a_conflicting_status_write_is_retried_on_a_fresh_read() -> None:
    store = FakeStore()
    assert fire(store, {"deployment": "web"}) == ["Created"]
    store.conflicts_to_raise = 1
    assert fire(store, {"deployment": "web"}, status="resolved", ends_at=T0) == ["Updated"]
    [incident] = store.objects.values()
    condition = next(c for c in incident["status"]["conditions"] if c["type"] == "AlertResolved")
    assert condition["status"] == "True"
    # Two attempts, the second with the resourceVersion read after the conflict.
    (_, first), (_, second) = store.patches
    assert int(second) > int(first)


def test_cooldown_is_per_target_and_can_be_disabled() -> None:
    store = FakeStore()
    outcomes = fire(
        store,
        {"pod": "web-5d9c7b6f4-x2x7q"},
        {"deployment": "web", "severity": "critical"},
        {"deployment": "api"},
    )
    assert sorted(outcomes) == ["CooledDown", "Created", "Created"]
    assert {o["spec"]["target"]["name"] for o in store.objects.values()} == {"web", "api"}

    store = FakeStore()
    worker = ingestor(store, cooldown=timedelta(0))
    outcomes = fire(store, {"pod": "web-5d9c7b6f4-x2x7q"}, {"deployment": "web"}, worker=worker)
    assert outcomes == ["Created", "Created"]


def test_an_api_failure_fails_the_call_but_reports_the_others() -> None:
    store = FakeStore()
    store.fail_for = {"broken"}
    with pytest.raises(IngestError) as failed:
        fire(store, {"deployment": "web"}, {"deployment": "broken"})
    assert "1 of 2 alerts failed" in str(failed.value)
    assert [r.outcome.value for r in failed.value.results] == ["Created"]


def test_skipped_and_ignored() -> None:
    store = FakeStore()
    assert fire(store, {"job": "x"}) == ["Skipped"]
    assert fire(store, {"deployment": "web"}, status="resolved", ends_at=T0) == ["Ignored"]
    assert store.objects == {}


class FakePrometheus:
    """``PrometheusClient.query`` answering from a list of (ALERTS, ALERTS_FOR_STATE) polls."""

    def __init__(self, polls: list[list[dict[str, str]]]) -> None:
        self.polls = polls
        self.calls = 0

    async def query(self, promql: str, *, at: datetime | None = None) -> dict[str, Any]:
        del at
        series = self.polls[min(self.calls // 2, len(self.polls) - 1)]
        self.calls += 1
        if promql.startswith("ALERTS{"):
            result = [{"metric": {"__name__": "ALERTS", "alertstate": "firing", **s},
                       "value": [0, "1"]} for s in series]  # fmt: skip
        else:
            result = [{"metric": {"__name__": "ALERTS_FOR_STATE", **s},
                       "value": [0, str(T0.timestamp())]} for s in series]  # fmt: skip
        return {"resultType": "vector", "result": result}


def test_polling_attaches_the_start_and_resolves_what_left() -> None:
    labels = {"alertname": "A", "namespace": "shop", "deployment": "web"}
    firing = asyncio.run(read_firing_alerts(FakePrometheus([[labels]])))  # type: ignore[arg-type]
    assert [(dict(a.labels), a.starts_at) for a in firing] == [(labels, T0)]

    store = FakeStore()
    worker = ingestor(store)
    prometheus = FakePrometheus([[labels], []])
    try:
        asyncio.run(poll_alerts(prometheus=prometheus, ingestor=worker,  # type: ignore[arg-type]
                                interval_seconds=0, iterations=2))  # fmt: skip
    finally:
        worker.close()
    [incident] = store.objects.values()
    assert incident["metadata"]["name"] == alerts.incident_name(firing[0])
    assert incident["spec"]["alert"]["groupKey"] == alerts.POLL_GROUP_KEY
    [condition] = incident["status"]["conditions"]
    assert (condition["type"], condition["status"]) == ("AlertResolved", "True")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"webhook_port": 8081}, "KUBEMEDIC_WEBHOOK_TOKEN_FILE must name a file"),
        ({"webhook_port": 8081, "webhook_token_file": Path("/nonexistent/token")},
         "/nonexistent/token"),
        ({"alert_poll_interval_seconds": 30}, "KUBEMEDIC_PROMETHEUS_URL must be set"),
    ],
)  # fmt: skip
def test_settings_that_cannot_work_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, OSError), match=message):
        check_settings(OperatorSettings(**settings))


# -- intake rules ------------------------------------------------------------------------------


class CountingStore(FakeStore):
    """A FakeStore that counts the requests the ingestor sends."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {"get": 0, "create": 0, "list_all": 0, "patch_status": 0}

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls["get"] += 1
        return super().get(namespace, name)

    def create(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        self.calls["create"] += 1
        return super().create(body)

    def list_all(self, *, label_selector: str, namespaces: Any = ()) -> list[dict[str, Any]]:
        self.calls["list_all"] += 1
        return super().list_all(label_selector=label_selector, namespaces=namespaces)


def rules(**limits: int) -> IntakeRules:
    return IntakeRules(
        skip_namespaces=frozenset({"kube-system", "shop-protected"}),
        limits=alerts.RateLimits(window=timedelta(hours=1), **limits),
    )


def run(worker: AlertIngestor, received: list[alerts.ReceivedAlert]) -> list[Any]:
    async def go() -> list[Any]:
        await worker.start(namespaces=[])
        return await worker.ingest(received, source="webhook")

    try:
        return asyncio.run(go())
    finally:
        worker.close()


def received(labels: dict[str, str], *, status: str = "firing") -> alerts.ReceivedAlert:
    full = {"alertname": "A", **labels}
    return alerts.ReceivedAlert(status=status, labels=full, annotations={},
                                fingerprint=alerts.label_fingerprint(full), starts_at=T0)  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "reason", "message"),
    [
        ({"namespace": "gone", "deployment": "web"}, "NamespaceNotFound", "namespace 'gone'"),
        ({"namespace": "shop", "deployment": "ghost"}, "TargetNotFound",
         "Deployment/shop/ghost does not exist"),
        ({"namespace": "shop", "pod": "gone-123"}, "TargetNotFound", "Pod/shop/gone-123"),
        ({"namespace": "kube-system", "daemonset": "kube-proxy"}, "ProtectedNamespace",
         "'kube-system' is protected"),
        ({"namespace": "shop", "exported_deployment": "web"}, "Unmappable",
         "KUBEMEDIC_ALERT_LABEL_OVERRIDES"),
    ],
)  # fmt: skip
def test_alerts_that_cannot_open_an_incident_are_skipped_with_the_reason(
    labels: dict[str, str], reason: str, message: str
) -> None:
    store = CountingStore()
    worker = AlertIngestor(incidents=store, reader=READER, rules=rules(),  # type: ignore[arg-type]
                           clock=lambda: T0)  # fmt: skip
    [result] = run(worker, [received(labels)])
    assert (result.outcome.value, result.reason.value) == ("Skipped", reason)
    assert message in result.message
    assert store.objects == {} and store.calls["create"] == 0


def test_rate_limits_answer_rate_limited_and_create_up_to_the_limit() -> None:
    store = CountingStore()
    worker = AlertIngestor(incidents=store, reader=READER, cooldown=timedelta(0),  # type: ignore[arg-type]
                           rules=rules(per_namespace=2, per_target=5), clock=lambda: T0)  # fmt: skip
    results = run(worker, [received({"namespace": "shop", "deployment": d, "n": str(i)})
                           for i, d in enumerate(["web", "api", "web", "broken"])])  # fmt: skip
    outcomes = [r.outcome.value for r in results]
    assert sorted(outcomes) == ["Created", "Created", "RateLimited", "RateLimited"]
    assert len(store.objects) == 2
    limited = [r for r in results if r.outcome.value == "RateLimited"]
    assert {r.reason.value for r in limited} == {"NamespaceRateLimit"}
    assert "KUBEMEDIC_ALERT_MAX_INCIDENTS_PER_NAMESPACE=2" in limited[0].message


def test_per_target_limit_holds_when_the_cooldown_is_off() -> None:
    store = CountingStore()
    worker = AlertIngestor(incidents=store, reader=READER, cooldown=timedelta(0),  # type: ignore[arg-type]
                           rules=rules(per_target=1), clock=lambda: T0)  # fmt: skip
    results = run(worker, [received({"namespace": "shop", "deployment": "web", "n": str(i)})
                           for i in range(3)])  # fmt: skip
    assert sorted(r.outcome.value for r in results) == ["Created", "RateLimited", "RateLimited"]
    assert {r.reason.value for r in results if r.reason} == {"TargetRateLimit"}


def test_repeats_are_deduplicated_from_the_index_without_requests() -> None:
    store = CountingStore()
    worker = AlertIngestor(incidents=store, reader=READER, rules=rules(),  # type: ignore[arg-type]
                           clock=lambda: T0)  # fmt: skip
    alert = received({"namespace": "shop", "deployment": "web"})

    async def go() -> list[str]:
        await worker.start(namespaces=[])
        first = await worker.ingest([alert], source="webhook")
        before = dict(store.calls)
        again = await worker.ingest([alert] * 50, source="webhook")
        assert store.calls == before, "a repeat must not cost a request"
        return [r.outcome.value for r in first + again]

    try:
        outcomes = asyncio.run(go())
    finally:
        worker.close()
    assert outcomes == ["Created"] + ["Deduplicated"] * 50
    assert store.calls["list_all"] == 1 and store.calls["create"] == 1


def test_a_deleted_incident_seen_by_the_watch_opens_again() -> None:
    store = CountingStore()
    worker = AlertIngestor(incidents=store, reader=READER, cooldown=timedelta(0),  # type: ignore[arg-type]
                           rules=rules(), clock=lambda: T0)  # fmt: skip
    alert = received({"namespace": "shop", "deployment": "web"})

    async def go() -> list[str]:
        await worker.start(namespaces=[])
        first = await worker.ingest([alert], source="webhook")
        [(key, obj)] = store.objects.items()
        del store.objects[key]
        worker.observe_event("DELETED", obj)
        again = await worker.ingest([alert], source="webhook")
        return [r.outcome.value for r in first + again]

    try:
        assert asyncio.run(go()) == ["Created", "Created"]
    finally:
        worker.close()


def test_incidents_seeded_at_start_hold_the_cooldown() -> None:
    store = FakeStore()
    assert fire(store, {"deployment": "web"}) == ["Created"]
    # A new process (another replica, or after a restart): its index comes from one LIST.
    worker = AlertIngestor(incidents=store, reader=READER, rules=rules(),  # type: ignore[arg-type]
                           clock=lambda: T0 + timedelta(minutes=1))  # fmt: skip
    [result] = run(worker, [received({"namespace": "shop", "deployment": "web", "x": "1"})])
    assert result.outcome.value == "CooledDown"


class CountingReader(FakeReader):
    """A FakeReader that records the paths read (a list of pods answers from its pods)."""

    def __init__(self, objects: dict[str, dict[str, Any]], *, list_fails: bool = False) -> None:
        super().__init__(objects)
        self.reads: list[str] = []
        self.list_fails = list_fails

    def get(self, path: str, *, from_cache: bool = False) -> dict[str, Any] | None:
        assert from_cache, "existence checks may be answered from the API server's cache"
        self.reads.append(path)
        if path == "/api/v1/namespaces/shop/pods":
            if self.list_fails:
                raise OSError("forbidden")
            prefix = path + "/"
            return {"items": [{**o, "metadata": {**o["metadata"], "name": k[len(prefix):]}}
                              for k, o in self.objects.items() if k.startswith(prefix)]}  # fmt: skip
        return super().get(path, from_cache=from_cache)


@pytest.mark.parametrize("list_fails", [False, True])
def test_ten_thousand_alerts_about_missing_pods_open_nothing(list_fails: bool) -> None:
    store = CountingStore()
    reader = CountingReader(READER.objects, list_fails=list_fails)
    worker = AlertIngestor(incidents=store, reader=reader,  # type: ignore[arg-type]
                           rules=rules(), clock=lambda: T0)  # fmt: skip
    flood = [received({"namespace": "shop", "pod": f"ghost-{i % 2000}", "n": str(i)})
             for i in range(9_999)]  # fmt: skip
    flood.insert(5000, received({"namespace": "shop", "pod": "web-5d9c7b6f4-x2x7q"}))
    results = run(worker, flood)
    assert len(results) == 10_000
    real = results.pop(5000)
    assert (real.outcome.value, real.incident) == ("Created", f"shop/{store_name(store)}")
    assert {(r.outcome.value, r.reason.value) for r in results} == {("Skipped", "TargetNotFound")}
    assert len(store.objects) == 1 and store.calls["create"] == 1
    pods = [r for r in reader.reads if "/pods" in r]
    if list_fails:
        # The bulk read is only a shortcut: one GET per distinct pod, shared by concurrent asks.
        assert len(pods) == 1 + 2001 and reader.reads.count("/api/v1/namespaces/shop") == 1
    else:
        # One read of the namespace, one list of its pods: no GET per pod.
        assert pods == ["/api/v1/namespaces/shop/pods"]


def store_name(store: FakeStore) -> str:
    [(_, name)] = store.objects
    return name


def test_without_the_seed_list_alerts_still_get_their_outcomes() -> None:
    class NoListStore(CountingStore):
        def list_all(self, *, label_selector: str, namespaces: Any = ()) -> list[dict[str, Any]]:
            raise OSError("forbidden")

    store = NoListStore()
    worker = AlertIngestor(incidents=store, reader=READER, rules=rules(),  # type: ignore[arg-type]
                           clock=lambda: T0)  # fmt: skip
    alert = received({"namespace": "shop", "deployment": "web"})
    resolution = alerts.resolved(alert, ends_at=T0)
    other = received({"namespace": "shop", "deployment": "api"}, status="resolved")
    outcomes = [r.outcome.value for r in run(worker, [alert])]
    worker = AlertIngestor(incidents=store, reader=READER, rules=rules(),  # type: ignore[arg-type]
                           clock=lambda: T0)  # fmt: skip

    async def fresh_process() -> list[str]:
        # A process that could not seed: the repeat is caught by the create's 409, and
        # resolutions are read one by one.
        await worker.start(namespaces=[])
        got = await worker.ingest([alert], source="webhook")
        got += await worker.ingest([resolution, other], source="webhook")
        return [r.outcome.value for r in got]

    try:
        outcomes += asyncio.run(fresh_process())
    finally:
        worker.close()
    assert outcomes == ["Created", "Deduplicated", "Updated", "Ignored"]
